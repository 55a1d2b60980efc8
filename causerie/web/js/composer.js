// The message box: Enter sends, Shift+Enter adds a line, and an Enter that confirms an IME composition
// (Japanese, Chinese, Korean input) never sends.
//
// Browsers report the confirming Enter differently: Chrome and Firefox fire keydown with isComposing=true
// before compositionend; Safari fires compositionend FIRST, then a keydown with isComposing=false and
// keyCode 229. So an Enter is ignored while composing, when keyCode is 229, or when it arrives right after
// a compositionend (same key press).

const AFTER_COMPOSITION_MS = 100;

export function isImeEnter(event, state) {
  return (
    event.isComposing ||
    event.keyCode === 229 ||
    state.composing ||
    event.timeStamp - state.compositionEndedAt < AFTER_COMPOSITION_MS
  );
}

// onSend(text) is called with the trimmed text; the box is cleared when it returns true (or a promise of it).
export function attachComposer(form, textarea, onSend) {
  const state = { composing: false, compositionEndedAt: -Infinity };

  const autosize = () => {
    textarea.style.height = "auto";
    textarea.style.height = `${Math.min(textarea.scrollHeight, 240)}px`;
  };

  const send = async () => {
    const text = textarea.value.trim();
    if (!text) return;
    if (await onSend(text)) {
      textarea.value = "";
      autosize();
    }
  };

  textarea.addEventListener("compositionstart", () => {
    state.composing = true;
  });
  textarea.addEventListener("compositionend", (event) => {
    state.composing = false;
    state.compositionEndedAt = event.timeStamp;
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
    if (isImeEnter(event, state)) return;
    event.preventDefault();
    send();
  });
  textarea.addEventListener("input", autosize);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  return { autosize };
}
