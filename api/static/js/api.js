// API access: the key lives in sessionStorage only (gone when the tab closes).

const KEY = "yuqing.apiKey";

export class ApiError extends Error {
  constructor(status, message, missing = false) {
    super(message);
    this.status = status;
    this.missing = missing; // the endpoint does not exist on this server (component not enabled)
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(v) { if (v) sessionStorage.setItem(KEY, v); else sessionStorage.removeItem(KEY); },
};

export function qs(params = {}) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => u.append(k, x));
    else u.append(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : "";
}

export async function api(path, { params, method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (session.key) headers["X-API-Key"] = session.key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(`/api/v1${path}${qs(params)}`, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "无法连接服务");
  }
  let data = null;
  try { data = await resp.json(); } catch { /* not JSON */ }
  if (!resp.ok) {
    const msg = (data && (data.error || data.detail)) || `HTTP ${resp.status}`;
    // FastAPI's generic "Not Found" means no such route: that component is not installed here.
    const missing = (resp.status === 404 && msg === "Not Found") || resp.status === 405;
    if (resp.status === 401) window.dispatchEvent(new CustomEvent("yuqing:unauthorized"));
    throw new ApiError(resp.status, String(msg), missing);
  }
  return data;
}

/** A Chinese one-liner for an error shown in a panel. */
export function describe(err) {
  if (err instanceof ApiError) {
    if (err.missing) return "服务未启用";
    if (err.status === 503) return `服务暂不可用：${err.message}`;
    if (err.status === 403) return "权限不足";
    if (err.status === 0) return err.message;
    return `出错：${err.message}`;
  }
  return `出错：${err && err.message ? err.message : err}`;
}
