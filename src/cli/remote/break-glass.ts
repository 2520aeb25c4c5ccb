/** `hsmkit break-glass …`: the service's emergency role (`/v1/break-glass/requests`). */
import { emit, type GlobalOptions, table } from '../output.js';
import { seg } from './remote-client.js';
import { remoteClient } from './remote-context.js';

/** A break-glass request as the API shows it. */
export interface BreakGlassView {
  id: string;
  requester: string;
  role: string;
  reason: string;
  duration_minutes: number;
  status: string;
  approvals_needed: number;
  approvers: string[];
  created_at: string;
  expires_at?: string;
}

function describe(r: BreakGlassView): string {
  return table([
    ['id', r.id],
    ['status', r.status],
    ['requester', `${r.requester} (${r.role})`],
    ['reason', r.reason],
    ['minutes', r.duration_minutes],
    ['approvals needed', r.approvals_needed],
    ['approvers', r.approvers.join(', ') || undefined],
    ['expires', r.expires_at],
  ]);
}

/** `break-glass request`: POST /v1/break-glass/requests. */
export async function requestBreakGlass(g: GlobalOptions, reason: string, minutes: number): Promise<void> {
  const r = await remoteClient(g).post<BreakGlassView>('/v1/break-glass/requests', {
    reason,
    duration_minutes: minutes,
  });
  emit(g, r, () => `${describe(r)}\nApprovers run: hsmkit break-glass approve ${r.id}`);
}

/** `break-glass approve ID`: POST /v1/break-glass/requests/:id/approvals. */
export async function approveBreakGlass(g: GlobalOptions, id: string): Promise<void> {
  const r = await remoteClient(g).post<BreakGlassView>(`/v1/break-glass/requests/${seg(id)}/approvals`, {});
  emit(g, r, () => describe(r));
}

/** `break-glass list`: GET /v1/break-glass/requests. */
export async function listBreakGlass(g: GlobalOptions): Promise<void> {
  const r = await remoteClient(g).get<{ items: BreakGlassView[] }>('/v1/break-glass/requests');
  emit(g, r, () =>
    r.items.length === 0
      ? 'No break-glass requests.'
      : r.items
          .map(
            (i) =>
              `${i.id} ${i.status.padEnd(9)} ${i.requester.padEnd(16)} ${i.approvals_needed} needed  ${i.reason}`,
          )
          .join('\n'),
  );
}
