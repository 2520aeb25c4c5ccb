export {
  formatPkcs11Uri,
  hexToId,
  idToHex,
  keyUri,
  type Pkcs11ObjectType,
  type Pkcs11Uri,
  parsePkcs11Uri,
  parsePkcs11UriWithPin,
} from './pkcs11-uri.js';
