// The public HTTP API, as any other client uses it. Errors become {status, error, message}.

export class ApiError extends Error {
  constructor(status, error, message) {
    super(message || error);
    this.status = status;
    this.error = error;
  }
}

const TIMEOUT_MS = 8000;

export async function request(method, path, body) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
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
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    // {"error", "message"}; FastAPI may still wrap it in "detail" until every route is uniform.
    const problem = (data && (data.error ? data : data.detail)) || {};
    throw new ApiError(response.status, problem.error || "generic", problem.message);
  }
  return data;
}

export const api = {
  offers: () => request("GET", "/api/offers"),
  compartments: () => request("GET", "/api/ui/compartments"),
  status: () => request("GET", "/api/ui/status"),
  startPurchase: (compartments) => request("POST", "/api/purchases", { compartments }),
  purchase: (id) => request("GET", `/api/purchases/${encodeURIComponent(id)}`),
  cancelPurchase: (id) => request("POST", `/api/purchases/${encodeURIComponent(id)}/cancel`),
};
