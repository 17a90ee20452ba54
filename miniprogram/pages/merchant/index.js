// Merchant redemption scanner (核销) for store staff: the staff key (id and
// secret, issued by the platform admin) is entered once and kept on this phone
// only; then scan the customer's QR code (or type the code), verify it, and
// redeem it. A code redeems once; the secret is never shown (last 4 only).
const { staffApi, newIdempotencyKey } = require('../../utils/api-partner.js');
const fmt = require('../../utils/format.js');

const STORAGE_KEY = 'kq_staff_key';
const REASON = { NOT_ACCEPTED_HERE: '本店不支持该卡券', ALREADY_REDEEMED: '该卡券已核销', NOT_DELIVERED: '该卡券尚未售出', EXPIRED: '该卡券已过期', VOIDED: '该卡券已作废' };

function storedKey() {
  try {
    const k = wx.getStorageSync(STORAGE_KEY);
    return k && k.keyId && k.secret ? k : null;
  } catch (e) {
    return null;
  }
}

Component({
  data: { hasKey: false, keyIdInput: '', secretInput: '', code: '', checked: null, result: null, busy: false, error: '' },
  methods: {
    onLoad() {
      this.redeemKey = null;
      this.setData({ hasKey: Boolean(storedKey()) });
    },
    onKeyId(e) {
      this.setData({ keyIdInput: e.detail.value.trim() });
    },
    onSecret(e) {
      this.setData({ secretInput: e.detail.value.trim() });
    },
    saveKey() {
      if (!this.data.keyIdInput || !this.data.secretInput) {
        this.setData({ error: '请填写核销员密钥 ID 和密钥' });
        return;
      }
      wx.setStorageSync(STORAGE_KEY, { keyId: this.data.keyIdInput, secret: this.data.secretInput });
      // The secret leaves page data as soon as it is stored.
      this.setData({ hasKey: true, keyIdInput: '', secretInput: '', error: '' });
    },
    forgetKey() {
      wx.removeStorageSync(STORAGE_KEY);
      this.setData({ hasKey: false, checked: null, result: null, code: '' });
    },
    onCode(e) {
      this.redeemKey = null;
      this.setData({ code: e.detail.value.trim(), checked: null, result: null });
    },
    scan() {
      wx.scanCode({
        onlyFromCamera: true,
        success: (res) => {
          this.redeemKey = null;
          this.setData({ code: String(res.result || '').trim(), checked: null, result: null });
          this.verify();
        },
        fail: () => {},
      });
    },
    client() {
      const key = storedKey();
      if (!key) {
        this.setData({ hasKey: false });
        throw new Error('请先设置核销员密钥');
      }
      return staffApi(key);
    },
    async verify() {
      if (this.data.busy || !this.data.code) return;
      this.setData({ busy: true, error: '', checked: null, result: null });
      try {
        const v = await this.client().verify(this.data.code);
        this.setData({
          checked: {
            redeemable: v.redeemable,
            reasonText: v.redeemable ? '可以核销' : REASON[v.reason] || v.message || v.reason,
            product: `${v.code.product_name} · ${v.code.sku_name}`,
            faceValue: fmt.yuan(v.code.face_value_fen),
            masked: v.code.secret_masked,
            expires: fmt.date(v.code.expires_at),
          },
        });
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      } finally {
        this.setData({ busy: false });
      }
    },
    async redeem() {
      if (this.data.busy || !this.data.checked || !this.data.checked.redeemable) return;
      this.setData({ busy: true, error: '' });
      // One key per code: pressing again after a lost answer returns the same redemption.
      this.redeemKey = this.redeemKey || newIdempotencyKey('rdm');
      try {
        const r = await this.client().redeem(this.data.code, this.redeemKey);
        this.setData({ result: { id: r.id, faceValue: fmt.yuan(r.face_value_fen), at: fmt.dateTime(r.redeemed_at) }, checked: null, code: '' });
        this.redeemKey = null;
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      } finally {
        this.setData({ busy: false });
      }
    },
  },
});
