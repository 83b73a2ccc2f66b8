/**
 * `read` of an object, worked out once per object and kept as long as the object lives: for what a
 * peer wrote into the shared document (records in a Yjs array, awareness states), which is never
 * changed in place but replaced by a new object, and is read again by every view on every change.
 * Anything that is not an object reads as null.
 */
export function oncePerObject<T extends object>(read: (raw: object) => T | null): (raw: unknown) => T | null {
  const seen = new WeakMap<object, T | null>();
  return (raw) => {
    if (typeof raw !== 'object' || raw === null) return null;
    let value = seen.get(raw);
    if (value === undefined) {
      value = read(raw);
      seen.set(raw, value);
    }
    return value;
  };
}
