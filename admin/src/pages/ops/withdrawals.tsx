import { useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { t } from '../../lib/i18n';
import { ConfirmButton, DataTable, Money } from '../../components';
import { DialogButton, PageHead, ReasonForm, col, dateCol, ft, idem, options, statusCol } from './kit';

interface Withdrawal {
  id: string;
  agent_id: string;
  amount_fen: number;
  fee_fen: number;
  net_fen: number;
  method: string;
  payout_account: string;
  status: string;
  approvals_needed: number;
  first_approved_by: string | null;
  risk_hold: boolean;
  created_at: string;
}
const statuses = ['requested', 'awaiting_second_approval', 'approved', 'paid', 'rejected'];

/** Shows the full payout account only on request (the list carries it masked); the server audits the look-up. */
function PayoutAccount(props: { id: string }) {
  const [value, setValue] = useState<string | null>(null);
  return value ? (
    <code>{value}</code>
  ) : (
    <button type="button" class="link" onClick={() => void api.get<{ payout_account: string }>(`/admin/withdrawals/${props.id}/payout-account`).then((r) => setValue(r.payout_account), (e: Error) => setValue(e.message))}>
      {t('wd.show_account')}
    </button>
  );
}

function Actions(props: { w: Withdrawal; reload: () => void }) {
  const { w, reload } = props;
  const open = w.status === 'requested' || w.status === 'awaiting_second_approval';
  return (
    <>
      {open && !w.risk_hold && (
        <ConfirmButton message={t('wd.approve_confirm', { amount: (w.amount_fen / 100).toFixed(2), agent: w.agent_id })} onConfirm={() => api.post(`/admin/withdrawals/${w.id}/approve`, {}, idem()).then(reload)}>
          {t('ops.approve')}
        </ConfirmButton>
      )}
      {open && (
        <DialogButton label={t('ops.reject')} danger>
          {(close) => <ReasonForm label={ft('reason')} onSubmit={(reason) => api.post(`/admin/withdrawals/${w.id}/reject`, { reason }, idem())} done={() => (close(), reload())} />}
        </DialogButton>
      )}
      {w.status === 'approved' && (
        <DialogButton label={t('wd.pay')}>
          {(close) => <ReasonForm field="reference" label={ft('payout_reference')} submitLabel={t('wd.pay')} onSubmit={(reference) => api.post(`/admin/withdrawals/${w.id}/pay`, { reference }, idem())} done={() => (close(), reload())} />}
        </DialogButton>
      )}
    </>
  );
}

export default function WithdrawalsPage() {
  return (
    <div class="page">
      <PageHead title={t('nav.ops.withdrawals')} />
      <DataTable<Withdrawal & Record<string, unknown>>
        path="/admin/withdrawals"
        exportName="withdrawals"
        filters={[
          { key: 'status', label: ft('status'), type: 'select', options: options(statuses) },
          { key: 'agent_id', label: ft('agent_id'), type: 'text' },
        ]}
        columns={[
          col('id'),
          col('agent_id'),
          col('amount_fen', (w) => <Money fen={w.amount_fen} />, (w) => w.amount_fen / 100),
          col('fee_fen', (w) => <Money fen={w.fee_fen} />, (w) => w.fee_fen / 100),
          col('net_fen', (w) => <Money fen={w.net_fen} />, (w) => w.net_fen / 100),
          col('method'),
          col('payout_account', (w) => (
            <>
              {w.payout_account} <PayoutAccount id={w.id} />
            </>
          )),
          statusCol(),
          col('approvals_needed'),
          col('risk_hold', (w) => (w.risk_hold ? t('wd.held') : '')),
          dateCol('created_at'),
        ]}
        rowActions={(w, reload) => <Actions w={w} reload={reload} />}
      />
    </div>
  );
}
