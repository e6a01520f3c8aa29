// isopool-bench --eval-import's module: a realistic 460 lines of functions,
// classes and tables (runtime_bench's code-cache figure has the same shape);
// a few run as it evaluates, the rest are compiled lazily, if ever.
export function hash0(s) {
  let h = 2166136261 ^ 0;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store0 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash0(String(k)), { k, v, at: 0 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash0(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults0 = { retries: 0, backoff: [10, 20, 40], tag: 'p0' };
export function configure0(opts = {}) {
  const o = { ...defaults0, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
export function hash1(s) {
  let h = 2166136261 ^ 1;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store1 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash1(String(k)), { k, v, at: 1 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash1(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults1 = { retries: 1, backoff: [10, 20, 40], tag: 'p1' };
export function configure1(opts = {}) {
  const o = { ...defaults1, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
export function hash2(s) {
  let h = 2166136261 ^ 2;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store2 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash2(String(k)), { k, v, at: 2 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash2(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults2 = { retries: 2, backoff: [10, 20, 40], tag: 'p2' };
export function configure2(opts = {}) {
  const o = { ...defaults2, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
export function hash3(s) {
  let h = 2166136261 ^ 3;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store3 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash3(String(k)), { k, v, at: 3 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash3(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults3 = { retries: 3, backoff: [10, 20, 40], tag: 'p3' };
export function configure3(opts = {}) {
  const o = { ...defaults3, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
export function hash4(s) {
  let h = 2166136261 ^ 4;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store4 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash4(String(k)), { k, v, at: 4 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash4(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults4 = { retries: 4, backoff: [10, 20, 40], tag: 'p4' };
export function configure4(opts = {}) {
  const o = { ...defaults4, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
export function hash5(s) {
  let h = 2166136261 ^ 5;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store5 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash5(String(k)), { k, v, at: 5 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash5(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults5 = { retries: 5, backoff: [10, 20, 40], tag: 'p5' };
export function configure5(opts = {}) {
  const o = { ...defaults5, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
export function hash6(s) {
  let h = 2166136261 ^ 6;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store6 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash6(String(k)), { k, v, at: 6 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash6(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults6 = { retries: 6, backoff: [10, 20, 40], tag: 'p6' };
export function configure6(opts = {}) {
  const o = { ...defaults6, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
export function hash7(s) {
  let h = 2166136261 ^ 7;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store7 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash7(String(k)), { k, v, at: 7 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash7(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults7 = { retries: 7, backoff: [10, 20, 40], tag: 'p7' };
export function configure7(opts = {}) {
  const o = { ...defaults7, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
export function hash8(s) {
  let h = 2166136261 ^ 8;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store8 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash8(String(k)), { k, v, at: 8 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash8(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults8 = { retries: 8, backoff: [10, 20, 40], tag: 'p8' };
export function configure8(opts = {}) {
  const o = { ...defaults8, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
export function hash9(s) {
  let h = 2166136261 ^ 9;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store9 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash9(String(k)), { k, v, at: 9 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash9(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults9 = { retries: 9, backoff: [10, 20, 40], tag: 'p9' };
export function configure9(opts = {}) {
  const o = { ...defaults9, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
export function hash10(s) {
  let h = 2166136261 ^ 10;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store10 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash10(String(k)), { k, v, at: 10 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash10(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults10 = { retries: 10, backoff: [10, 20, 40], tag: 'p10' };
export function configure10(opts = {}) {
  const o = { ...defaults10, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
export function hash11(s) {
  let h = 2166136261 ^ 11;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store11 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash11(String(k)), { k, v, at: 11 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash11(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults11 = { retries: 11, backoff: [10, 20, 40], tag: 'p11' };
export function configure11(opts = {}) {
  const o = { ...defaults11, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
export function hash12(s) {
  let h = 2166136261 ^ 12;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store12 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash12(String(k)), { k, v, at: 12 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash12(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults12 = { retries: 12, backoff: [10, 20, 40], tag: 'p12' };
export function configure12(opts = {}) {
  const o = { ...defaults12, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
export function hash13(s) {
  let h = 2166136261 ^ 13;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
export class Store13 {
  constructor(name) {
    this.name = name;
    this.rows = new Map();
  }
  put(k, v) {
    this.rows.set(hash13(String(k)), { k, v, at: 13 });
    return this;
  }
  get(k) {
    const r = this.rows.get(hash13(String(k)));
    return r === undefined ? undefined : r.v;
  }
  toJSON() {
    return [...this.rows.values()].map((r) => [r.k, r.v]);
  }
}
const defaults13 = { retries: 13, backoff: [10, 20, 40], tag: 'p13' };
export function configure13(opts = {}) {
  const o = { ...defaults13, ...opts };
  if (o.retries < 0) {
    throw new RangeError('retries');
  }
  return Object.freeze(o);
}
const s = new Store0('main').put('a', 1).put('b', configure1().retries);
export default s.get('b') + (hash2('xyz') % 7);
