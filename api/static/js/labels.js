// Chinese names for codes the API returns.

export const SOURCE_TYPE = {
  hotline: "热线", petition: "信访", news: "新闻", forum: "论坛", microblog: "微博",
  message_board: "留言板",
};
// 三量: hotline, online opinion (news/forum/microblog/message_board), petitions.
export const LINES = [
  { key: "hotline", name: "热线", types: ["hotline"], color: "#2f6fdf" },
  { key: "online", name: "网络舆情", types: ["news", "forum", "microblog", "message_board"], color: "#e08a1e" },
  { key: "petition", name: "信访", types: ["petition"], color: "#8a3fc4" },
];
export const lineOf = (sourceType) => LINES.find((l) => l.types.includes(sourceType));

export const SENTIMENT = { negative: "负面", neutral: "中性", positive: "正面" };
export const RISK = { none: "无", elevated: "关注", critical: "高风险" };
export const SEVERITY = { info: "提示", warning: "警告", critical: "严重" };
export const STATUS = {
  firing: "待确认", acknowledged: "已确认", dispatched: "已派单", resolved: "已办结", revisited: "已回访",
};
export const OPEN_STATUSES = ["firing", "acknowledged", "dispatched"];
export const CATEGORY = {
  property: "物业管理", demolition: "拆迁征收", environment: "环境污染", noise: "噪音扰民",
  traffic: "交通出行", wages: "劳动欠薪", education: "教育", health: "医疗卫生",
  food_safety: "食品安全", public_security: "社会治安", safety: "安全生产与消防",
  housing: "房产住建", utilities: "水电气暖", urban_management: "城市管理", consumer: "消费维权",
  social_welfare: "社会保障", government_service: "政务服务", other: "其他",
};
export const GEO_LEVEL = {
  grid: "网格", community: "社区", street: "街道", district: "区", outside: "区外", unlocated: "未定位",
};
export const GEO_METHOD = {
  coordinates: "坐标落点", coords: "坐标落点", point: "坐标落点", snap: "坐标就近吸附",
  gazetteer: "地名库匹配", text: "文本地名", address: "地址文本", author_location: "作者所在地",
  admin_name: "行政区名", none: "无",
};
export const RISK_KIND = {
  collective_action: "群体性事件", gathering: "聚集", extreme_act: "极端行为", casualty: "伤亡",
  fire: "火灾", explosion: "爆炸", violence: "暴力", food_poisoning: "食物中毒",
  missing_child: "儿童走失", threat: "威胁",
};

export const zh = (table, code) => (code == null ? "—" : table[code] || String(code));

export function fmtTime(value) {
  if (value == null || value === "") return "—";
  const d = typeof value === "number" ? new Date(value * (value < 1e12 ? 1000 : 1)) : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  // Beijing time regardless of the viewer's machine
  const parts = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hour12: false,
  }).formatToParts(d);
  const get = (t) => (parts.find((p) => p.type === t) || {}).value || "";
  return `${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
}

export function fmtNum(n, digits = 0) {
  if (n == null || Number.isNaN(Number(n))) return "—";
  return Number(n).toLocaleString("zh-CN", { maximumFractionDigits: digits });
}

export const pct = (x) => (x == null || !Number.isFinite(x) ? "—" : `${(x * 100).toFixed(1)}%`);
