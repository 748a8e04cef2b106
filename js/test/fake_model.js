// A stand-in for the anywidget model: traits, custom messages both ways, and a "kernel" that answers
// requests the way the Python side does (kernel(msg) returns the reply's fields, or throws).
export function fakeModel(state, kernel) {
  const handlers = new Map();
  const sent = [];
  const st = { callback_error: "", progress: {}, ...state };
  const emit = (ev, ...a) => [...(handlers.get(ev) || [])].forEach((f) => f(...a));
  const model = {
    get: (k) => st[k],
    set: (k, v) => { st[k] = v; emit(`change:${k}`); },
    on: (ev, f) => { if (!handlers.has(ev)) handlers.set(ev, new Set()); handlers.get(ev).add(f); },
    off: (ev, f) => { handlers.get(ev)?.delete(f); if (!handlers.get(ev)?.size) handlers.delete(ev); },
    save_changes: () => {},
    send: (msg) => {
      sent.push(msg);
      queueMicrotask(() => {
        let reply;
        try { reply = kernel(msg, model); } catch (err) { reply = { error: err.message }; }
        if (reply === undefined) return; // no answer (a dead kernel)
        emit("msg:custom", { kind: msg.kind, id: msg.id, ...reply });
      });
    },
    sent,
    handlers,
    listening: () => [...handlers.values()].reduce((n, s) => n + s.size, 0),
  };
  return model;
}

export const tick = () => new Promise((r) => setTimeout(r, 0));
export async function settle(n = 4) { for (let i = 0; i < n; i++) await tick(); }

export const cell = (text) => ({ text, length: text === null ? 0 : String(text).length, truncated: false });

export function key(el, k, extra = {}) {
  el.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true, ...extra }));
}
