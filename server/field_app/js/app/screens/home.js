// "Hộ gia đình": the enumerator's households in five tabs, a search that ignores diacritics,
// and a big "+ Hộ mới" at the thumb.

import { formatDateTime, t } from '../i18n.js';
import { matches } from '../text.js';
import { summaryOf } from '../visits.js';
import { button, clear, h } from '../ui.js';

export const TABS = ['assigned', 'drafts', 'pending', 'fix', 'sent'];

export async function collect(visits) {
  const [households, drafts, outbox] = await Promise.all([visits.households(), visits.drafts(), visits.outbox()]);
  const busy = new Set([...drafts.map((d) => d.household_id),
    ...outbox.filter((e) => e.status === 'pending').map((e) => e.item.household_id)]);
  const byNewest = (field) => (a, b) => String(b[field] || '').localeCompare(String(a[field] || ''));
  return {
    assigned: households.filter((hh) => !busy.has(hh.id))
      .sort((a, b) => String(a.head_name || '').localeCompare(String(b.head_name || ''), 'vi')),
    drafts: drafts.filter((d) => !d.fix).sort(byNewest('updated_at')),
    pending: outbox.filter((e) => e.status === 'pending').sort(byNewest('queued_at')),
    fix: drafts.filter((d) => d.fix).sort(byNewest('updated_at')),
    sent: outbox.filter((e) => e.status === 'sent').sort(byNewest('sent_at')),
  };
}

function areaName(app, code) {
  const area = (app.session.client.profile.areas || []).find((a) => a.code === code);
  return area ? area.name : code;
}

function classificationChip(value) {
  return value ? h('span', { class: `chip chip-${value}` }, t(`class.${value}`)) : null;
}

function reviewChip(entry) {
  const state = entry.review?.state || 'received';
  return h('span', { class: `chip chip-review-${state}` }, t(`review.${state}`));
}

function card(app, { title, lines = [], chips = [], onclick, testid }) {
  return h('li', {}, h('button', { type: 'button', class: 'card card-item', onclick, 'data-testid': testid },
    h('span', { class: 'card-title' }, title || t('home.no_name')),
    lines.filter(Boolean).map((line) => h('span', { class: 'card-line' }, line)),
    chips.length ? h('span', { class: 'chips' }, chips) : null));
}

function cardsFor(app, tab, items) {
  const nameOf = (x) => summaryOf(x).head_name || x.head_name;
  if (tab === 'assigned') {
    return items.map((hh) => card(app, {
      title: hh.head_name, testid: 'household',
      lines: [[hh.household_code, areaName(app, hh.area)].filter(Boolean).join(' · ')],
      chips: [classificationChip(hh.classification)],
      onclick: () => app.startVisit(hh),
    }));
  }
  if (tab === 'drafts') {
    return items.map((d) => card(app, {
      title: nameOf(d), testid: 'draft',
      lines: [[summaryOf(d).household_code, areaName(app, d.area)].filter(Boolean).join(' · '),
        t('home.saved_at', { time: formatDateTime(d.updated_at) })],
      onclick: () => app.openVisit(d),
    }));
  }
  if (tab === 'fix') {
    return items.map((d) => card(app, {
      title: nameOf(d), testid: 'fix',
      lines: [d.fix.kind === 'rejected' && d.fix.errors ? t('fix.rejected_count', { n: d.fix.errors.length })
        : t('fix.comment', { comment: d.fix.comment || '' })],
      chips: [h('span', { class: 'chip chip-warn' }, t(`fix.kind.${d.fix.kind}`))],
      onclick: () => app.openVisit(d),
    }));
  }
  if (tab === 'pending') {
    return items.map((e) => card(app, {
      title: e.head_name, testid: 'pending',
      lines: [t('home.finished_at', { time: formatDateTime(e.queued_at) })],
      chips: [classificationChip(e.outputs?.classification)],
      onclick: () => app.showPending(e),
    }));
  }
  return items.map((e) => card(app, {
    title: e.head_name, testid: 'sent',
    lines: [t('home.sent_at', { time: formatDateTime(e.sent_at) }),
      (e.missing_attachments || []).length ? t('home.files_waiting', { n: e.missing_attachments.length }) : null,
      e.review?.comment ? t('fix.comment', { comment: e.review.comment }) : null],
    chips: [classificationChip(e.result?.outputs?.classification || e.outputs?.classification), reviewChip(e)],
    onclick: () => {},
  }));
}

function searchable(item) {
  const s = summaryOf(item);
  return [s.head_name, item.head_name, s.household_code, item.household_code, s.address, item.answers?.address];
}

export function showHome(app) {
  app.screen(async () => {
    if (!app.session) return; // locked meanwhile
    const lists = await collect(app.session.visits);
    if (!app.session) return;
    const pendingCount = lists.pending.length;
    const tabs = h('nav', { class: 'tabs', role: 'tablist', 'aria-label': t('home.title') },
      TABS.map((tab) => h('button', { type: 'button', role: 'tab', class: `tab${app.home.tab === tab ? ' active' : ''}`,
        'aria-selected': String(app.home.tab === tab), 'data-tab': tab,
        onclick: () => { app.home.tab = tab; app.redraw(); } },
      h('span', { class: 'tab-label' }, t(`tab.${tab}`)), h('span', { class: 'tab-count' }, String(lists[tab].length)))));
    const list = h('ul', { class: 'cards', id: 'household-list' });
    const search = h('input', { type: 'search', class: 'search', placeholder: t('home.search'), 'aria-label': t('home.search'),
      value: app.home.query });
    const fill = () => {
      const shown = lists[app.home.tab].filter((item) => matches(search.value, ...searchable(item)));
      clear(list, shown.length ? cardsFor(app, app.home.tab, shown)
        : h('li', { class: 'empty' }, search.value ? t('home.no_match') : t(`home.empty.${app.home.tab}`)));
    };
    search.addEventListener('input', () => { app.home.query = search.value; fill(); });
    fill();
    const syncButton = h('button', { type: 'button', class: 'btn btn-bar', onclick: () => app.showSync(),
      'aria-label': t('sync.title') }, t('home.sync'), pendingCount ? h('span', { class: 'badge' }, String(pendingCount)) : null);
    const more = button('⋯', () => app.showHelp(), 'btn btn-bar', { 'aria-label': t('more.title') });
    app.frame(t('home.title'), [
      tabs, search, list,
      h('div', { class: 'dock' }, button(t('home.new'), () => app.showNewHousehold(), 'btn btn-primary btn-new')),
    ], { actions: [syncButton, more] });
    app.onSyncChange = () => { if (app.current && !app.inForm && app.currentName === 'home') app.redraw(); };
    app.currentName = 'home';
  });
}
