import { thalesLuna } from './thales-luna.js';
import type { VendorProfile } from './vendor-profile.js';

/**
 * Azure Dedicated HSM: a Thales Luna 7 (model A790) network HSM in the customer's virtual network.
 * The PKCS#11 behaviour is Luna's; what differs is who operates what. Not runnable here.
 */
const { detect: _lunaDetect, ...luna } = thalesLuna;

export const azureDedicated: VendorProfile = {
  ...luna,
  id: 'azure_dedicated',
  name: 'Azure Dedicated HSM',
  evidence: 'documented',
  products: ['Azure Dedicated HSM (Thales Luna 7 HSM, model A790)'],
  // No `detect`: the device reports itself as a Luna, so detection picks thales_luna; configure
  // `provider: azure_dedicated` to choose this profile.
  features: {
    ...thalesLuna.features,
    'high availability': {
      status: 'partial',
      reason:
        'Microsoft gives no HA guarantee; the customer configures Luna HA groups or several members in hsmkit across devices and regions.',
    },
    'vendor administration': {
      status: 'not-applicable',
      reason:
        'Microsoft has no administrative access to the HSM; the customer administers it with Thales tools and support.',
    },
  },
  quirks: [
    ...thalesLuna.quirks,
    'Reached over a private IP in the customer VNet; the Luna client and its certificates are set up by the customer.',
  ],
  sources: [
    'https://learn.microsoft.com/en-us/Azure/dedicated-hsm/faq',
    'https://learn.microsoft.com/en-us/azure/dedicated-hsm/troubleshoot',
    ...thalesLuna.sources,
  ],
};
