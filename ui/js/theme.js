// Applies Settings.theme / Settings.language to the document and stores state.
import { setLanguage } from './i18n.js';
import { translate } from './dom.js';
import { setState, changed } from './store.js';

const params = new URLSearchParams(location.search);

export function applyAppearance(settings) {
  const theme = settings && settings.theme;
  const root = document.documentElement;
  if (theme === 'dark' || theme === 'light') root.dataset.theme = theme;
  else delete root.dataset.theme;
  if (setLanguage((settings && settings.language) || 'auto')) {
    translate(document.body);
    changed();
  }
  document.title = 'Parley';
  if (params.has('reduced')) root.classList.add('reduce-motion');
}

/** Every State from the backend goes through here. */
export function applySettingsState(s) {
  setState(s);
  applyAppearance(s.settings);
}
