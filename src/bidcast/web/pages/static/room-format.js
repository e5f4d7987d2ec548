// Small formatting and parsing helpers shared by the room page and the host console.

export const CONDITIONS = {
  new: "New", like_new: "Like new", used_good: "Used · good", used_fair: "Used · fair", for_parts: "For parts",
};

const ZERO_DECIMALS = new Set(["JPY", "KRW"]);
const compactFormat = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

export function compact(n) {
  return compactFormat.format(n || 0);
}

// Writes only when the text changed: most events touch one or two nodes, and cheaply.
export function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

// "25", "25.5", "25,50", "€ 1,250.00", "1.250,00" -> minor units; null when it is not a number.
export function toMinor(text, currency = "EUR") {
  let t = String(text ?? "").replace(/[^\d.,]/g, "");
  if (!/\d/.test(t)) return null;
  const digits = ZERO_DECIMALS.has(currency) ? 0 : 2;
  const sep = Math.max(t.lastIndexOf("."), t.lastIndexOf(","));
  let major = t, minor = "";
  if (sep >= 0 && t.length - sep - 1 <= 2 && digits > 0) {   // a decimal separator
    major = t.slice(0, sep); minor = t.slice(sep + 1);
  }
  major = major.replace(/[.,]/g, "") || "0";
  minor = (minor + "00").slice(0, digits);
  const value = Number.parseInt(major, 10) * 10 ** digits + (digits ? Number.parseInt(minor || "0", 10) : 0);
  return Number.isSafeInteger(value) ? value : null;
}

// 2550 -> "25.50", 2500 -> "25" (for input placeholders and values).
export function toMajorText(amount, currency = "EUR") {
  if (amount === null || amount === undefined) return "";
  const digits = ZERO_DECIMALS.has(currency) ? 0 : 2;
  if (!digits) return String(amount);
  const major = Math.floor(amount / 100), minor = amount % 100;
  return minor ? `${major}.${String(minor).padStart(2, "0")}` : String(major);
}
