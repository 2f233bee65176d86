// The public HTTP API, as any other client uses it. Errors become {status, error, message}.

export class ApiError extends Error {
  constructor(status, error, message, retryAfter) {
    super(message || error);
    this.status = status;
    this.error = error;
    this.retryAfter = retryAfter; // seconds, when the answer said (a throttle pause)
  }
}

const TIMEOUT_MS = 8000;
const DOOR_TIMEOUT_MS = 30000; // a pick-up answers once the door opened (or did not)

export async function request(method, path, body, timeoutMs = TIMEOUT_MS) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      cache: "no-store",
    });
  } catch (exc) {
    throw new ApiError(0, "network", String(exc));
  } finally {
    clearTimeout(timer);
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 204) return null;
  if (!response.ok) {
    // {"error", "message"}; FastAPI may still wrap it in "detail" until every route is uniform.
    const problem = (data && (data.error ? data : data.detail)) || {};
    const retryAfter = Number(response.headers.get("Retry-After")) || undefined;
    throw new ApiError(response.status, problem.error || "generic", problem.message, retryAfter);
  }
  return data;
}

export const api = {
  offers: () => request("GET", "/api/offers"),
  compartments: () => request("GET", "/api/ui/compartments"),
  status: () => request("GET", "/api/ui/status"),
  startPurchase: (compartments, vouchers = []) => request("POST", "/api/purchases", vouchers.length ? { compartments, vouchers } : { compartments }),
  purchase: (id) => request("GET", `/api/purchases/${encodeURIComponent(id)}`),
  cancelPurchase: (id) => request("POST", `/api/purchases/${encodeURIComponent(id)}/cancel`),
  paymentMethods: () => request("GET", "/api/payment-methods"),
  ageCard: () => request("GET", "/api/age-check/card"),
  startAppPurchase: (compartments, vouchers = []) => request("POST", "/api/purchases", vouchers.length ? { compartments, vouchers, pay_with: "app" } : { compartments, pay_with: "app" }),
  // collecting orders and parcels
  collect: (code) => request("POST", "/api/pickup/collect", { code }, DOOR_TIMEOUT_MS),
  collectCard: () => request("POST", "/api/pickup/card", {}, DOOR_TIMEOUT_MS),
  // returning empties, vouchers, receipts
  depositStatus: () => request("GET", "/api/deposit"),
  startReturn: () => request("POST", "/api/returns"),
  getReturn: (id) => request("GET", `/api/returns/${encodeURIComponent(id)}`),
  finishReturn: (id) => request("POST", `/api/returns/${encodeURIComponent(id)}/finish`),
  chooseReturn: (id, choice) => request("POST", `/api/returns/${encodeURIComponent(id)}/choice`, { choice }),
  checkVoucher: (code) => request("POST", "/api/vouchers/check", { code }),
  printReceipt: (id) => request("POST", `/api/receipts/${encodeURIComponent(id)}/print`),
  receiptData: (id) => request("GET", `/api/receipts/${encodeURIComponent(id)}/data`),
  // volunteers (the session is the HttpOnly cookie the log-in sets)
  loginPin: (accountId, pin) => request("POST", "/api/staff/login/pin", { account_id: accountId, pin }),
  loginBadge: (pin) => request("POST", "/api/staff/login/badge", pin ? { pin } : {}),
  badgeTap: () => request("GET", "/api/staff/badge"),
  logout: () => request("POST", "/api/staff/logout"),
  tasks: () => request("GET", "/api/staff/tasks"),
  products: () => request("GET", "/api/staff/products"),
  openRestock: (compartment) => request("POST", "/api/staff/restocks", { compartment }),
  restock: (id) => request("GET", `/api/staff/restocks/${id}`),
  openRestocks: () => request("GET", "/api/staff/restocks"),
  loadGoods: (id, body) => request("POST", `/api/staff/restocks/${id}/load`, body),
  removeGoods: (id, reason) => request("POST", `/api/staff/restocks/${id}/remove`, { reason }),
  closeRestock: (id) => request("POST", `/api/staff/restocks/${id}/close`),
  correctiveAction: (body) => request("POST", "/api/staff/corrective-actions", body),
  endOfDay: (day) => request("GET", `/api/staff/reports/end-of-day?day=${encodeURIComponent(day)}`),
  temperatures: () => request("GET", "/api/staff/reports/temperatures?hours=24&buckets=96"),
  printer: () => request("GET", "/api/staff/printer"),
  sendEndOfDay: (day) => request("POST", "/api/staff/reports/end-of-day", { day }),
};

export const receiptQr = (id) => `/api/receipts/${encodeURIComponent(id)}/qr`;
