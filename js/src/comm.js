// Request/response over anywidget custom messages: {kind, id, ...} → {kind, id, ...} | {kind, id, error}.
let seq = 0;
const prefix = Math.random().toString(36).slice(2, 8);

export function client(model, { timeout = 60_000 } = {}) {
  const pending = new Map();
  const onMsg = (msg) => {
    if (!msg || msg.id === undefined || !pending.has(msg.id)) return;
    const { resolve, reject, timer } = pending.get(msg.id);
    pending.delete(msg.id);
    clearTimeout(timer);
    // marimo re-runs the cells that use a widget only when its front end writes a trait: write
    // the kernel's count of saved changes back (the kernel keeps its own value either way).
    if (msg.saved && !msg.error) { model.set("saved", msg.saved); model.save_changes(); }
    if (msg.error) reject(Object.assign(new Error(msg.error), { reply: msg }));
    else resolve(msg);
  };
  model.on("msg:custom", onMsg);
  return {
    request(msg) {
      const id = `${prefix}-${++seq}`;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`no answer from the kernel after ${timeout / 1000} s (is it busy or dead?)`));
        }, timeout);
        pending.set(id, { resolve, reject, timer });
        model.send({ ...msg, id });
      });
    },
    close() {
      model.off("msg:custom", onMsg);
      for (const { timer } of pending.values()) clearTimeout(timer);
      pending.clear();
    },
    get pending() { return pending.size; },
  };
}
