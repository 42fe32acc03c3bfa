// mediakit's web page: submit jobs, follow them live (Server-Sent Events), play results with subtitles.
// Plain JavaScript on the jobs API (/mediakit/v1); no library, no build step, no network beyond this server.
(() => {
  'use strict';
  const API = 'mediakit/v1';
  const VIDEO = ['mp4', 'm4v', 'mkv', 'webm', 'mov', 'ogv', 'avi', 'vob', 'mpg', 'mpeg', 'ts', 'wmv'];
  const TERMINAL = ['done', 'failed', 'cancelled'];
  const $ = (id) => document.getElementById(id);
  let key = localStorage.getItem('mediakit.key') || '';
  let chosen = [];
  const streams = new Map();
  const jobs = new Map();
  let playing = null; // {job, index}
  let lost = false; // an event stream lost the server

  const authHeaders = () => (key ? { Authorization: 'Bearer ' + key } : {});
  const withKey = (url) => (key ? url + (url.includes('?') ? '&' : '?') + 'api_key=' + encodeURIComponent(key) : url);
  const rel = (url) => url.replace(/^\//, ''); // the API's URLs are absolute paths; the page may sit under a prefix

  async function api(path, options = {}) {
    const response = await fetch(API + path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
    const type = response.headers.get('content-type') || '';
    const body = type.includes('json') ? await response.json() : await response.text();
    if (response.status === 401) $('key-box').hidden = false;
    if (!response.ok) throw new Error((body && body.error && body.error.message) || 'HTTP ' + response.status);
    return body;
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else if (name === 'text') node.textContent = value;
      else node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  const clock = (s) => {
    if (s === null || s === undefined) return '?';
    s = Math.max(0, Math.round(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? h + ':' + String(m).padStart(2, '0') : m) + ':' + String(sec).padStart(2, '0');
  };
  const size = (n) => (n > 1e9 ? (n / 1e9).toFixed(1) + ' GB' : n > 1e6 ? (n / 1e6).toFixed(1) + ' MB' : Math.ceil(n / 1e3) + ' kB');

  // -- the form ------------------------------------------------------------------------------------------
  async function loadInfo() {
    try {
      const info = await api('/info');
      const model = $('model');
      model.replaceChildren(...info.models.map((m) => el('option', { value: m, text: m + (m === info.default_model ? ' (default)' : '') })));
      const language = $('language');
      const names = Object.entries(info.languages || {}).sort((a, b) => a[1].localeCompare(b[1]));
      language.replaceChildren(el('option', { value: '', text: 'Detect' }),
        ...names.map(([code, name]) => el('option', { value: code, text: name[0].toUpperCase() + name.slice(1) + ' (' + code + ')' })));
      $('vad').checked = info.vad === true;
      const box = $('formats');
      box.replaceChildren(el('legend', { text: 'Output formats' }), ...info.formats.map((f) =>
        el('label', {}, el('input', { type: 'checkbox', name: 'output_format', value: f, checked: info.default_formats.includes(f) }), ' ' + f)));
      $('server-state').textContent = info.ready ? 'Ready: ' + info.models.join(', ') : 'Loading the models... jobs wait until they are loaded.';
      if (!info.ready) setTimeout(loadInfo, 3000);
      return true;
    } catch (err) {
      $('server-state').textContent = err.message;
      return false;
    }
  }

  function showChosen() {
    $('chosen').replaceChildren(...chosen.map((file, i) => el('li', {},
      el('span', { text: file.name + ' (' + size(file.size) + ')' }),
      el('button', { type: 'button', class: 'secondary', 'aria-label': 'Remove ' + file.name,
        onclick: () => { chosen.splice(i, 1); showChosen(); } }, 'Remove'))));
  }

  function addFiles(list) {
    for (const file of list) chosen.push(file);
    showChosen();
  }

  function setupDrop() {
    const drop = $('drop'), input = $('files');
    drop.addEventListener('click', () => input.click());
    drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } });
    input.addEventListener('change', () => { addFiles(input.files); input.value = ''; });
    for (const name of ['dragenter', 'dragover']) drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add('over'); });
    for (const name of ['dragleave', 'drop']) drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.remove('over'); });
    drop.addEventListener('drop', (e) => addFiles(e.dataTransfer.files));
  }

  function submit(event) {
    event.preventDefault();
    const state = $('submit-state');
    if (!chosen.length) { state.textContent = 'Choose or drop at least one file first.'; return; }
    const form = new FormData();
    for (const file of chosen) form.append('file', file, file.name);
    form.append('model', $('model').value);
    form.append('language', $('language').value);
    form.append('task', $('task').value);
    form.append('vad', $('vad').checked ? 'true' : 'false');
    if ($('word_timestamps').checked) form.append('word_timestamps', 'true');
    for (const box of document.querySelectorAll('#formats input:checked')) form.append('output_format', box.value);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', API + '/jobs');
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) state.textContent = 'Uploading: ' + Math.round((100 * e.loaded) / e.total) + '%'; };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (err) { /* not JSON */ }
      $('submit').disabled = false;
      if (xhr.status === 202 && body) {
        state.textContent = 'Job submitted.';
        chosen = [];
        showChosen();
        upsert(body);
        follow(body.id);
      } else {
        if (xhr.status === 401) $('key-box').hidden = false;
        state.textContent = 'Not submitted: ' + ((body && body.error && body.error.message) || 'HTTP ' + xhr.status);
      }
    };
    xhr.onerror = () => { $('submit').disabled = false; state.textContent = 'Not submitted: the server cannot be reached.'; };
    $('submit').disabled = true;
    state.textContent = 'Uploading...';
    xhr.send(form);
  }

  // -- the jobs --------------------------------------------------------------------------------------------
  function numbers(progress, status) {
    const parts = [clock(progress.done) + ' of ' + clock(progress.total)];
    if (progress.speed) parts.push(progress.speed.toFixed(1) + '× real time');
    if (progress.eta_seconds !== null && progress.eta_seconds !== undefined && !TERMINAL.includes(status)) parts.push(clock(progress.eta_seconds) + ' left');
    return parts.join(' · ');
  }

  function downloads(urls, name) {
    return el('div', { class: 'downloads' }, el('span', { class: 'muted', text: 'Download:' }), Object.entries(urls).map(([fmt, url]) =>
      el('a', { class: 'button secondary', href: withKey(rel(url)), download: (name.replace(/\.[^.]*$/, '') || name) + '.' + fmt,
        'aria-label': 'Download ' + fmt + ' of ' + name, 'data-focus': 'dl-' + fmt + '-' + name }, fmt)));
  }

  function renderFile(job, file) {
    const label = 'progress of ' + file.name;
    const single = job.files.length === 1; // the job's heading already names the file and its state
    return el('div', { class: 'file', 'data-index': file.index },
      single ? null : el('div', { class: 'file-line' },
        el('span', { class: 'file-name', text: file.name }),
        el('span', { class: 'badge ' + file.status, text: state(file) })),
      el('progress', { max: '100', value: String(file.progress.percent), 'aria-label': label }),
      el('div', { class: 'numbers', text: numbers(file.progress, file.status) }),
      file.error ? el('div', { class: 'error', text: file.error }) : null,
      file.status === 'done' ? el('div', { class: 'downloads' },
        el('button', { type: 'button', 'data-focus': 'play-' + job.id + '-' + file.index,
          onclick: () => openPlayer(job.id, file.index) }, 'Play with subtitles'),
        downloads(file.results, file.name)) : null);
  }

  const state = (file) => (file.phase && file.status === 'running' ? file.status + ': ' + file.phase : file.status);

  function renderJob(job) {
    const when = new Date(job.created * 1000).toLocaleString();
    const active = !TERMINAL.includes(job.status);
    return el('li', { class: 'job', id: 'job-' + job.id, 'data-status': job.status },
      el('div', { class: 'job-head' },
        el('h3', { class: 'job-title' }, job.files.length === 1 ? job.files[0].name : job.files.length + ' files'),
        el('span', { class: 'when', text: when + ' · ' + (job.options.model || 'default model') }),
        el('span', { class: 'badge ' + job.status, text: job.files.length > 1 ? job.status + ' · ' + job.progress.percent + '%' : state(job.files[0]) })),
      job.files.length > 1 ? el('div', { class: 'numbers', text: 'All files: ' + numbers(job.progress, job.status) }) : null,
      job.files.map((file) => renderFile(job, file)),
      el('div', { class: 'actions' },
        active ? el('button', { type: 'button', class: 'secondary', 'data-focus': 'cancel-' + job.id, onclick: () => act(job.id, 'cancel') }, 'Cancel') : null,
        el('button', { type: 'button', class: 'danger', 'data-focus': 'delete-' + job.id, onclick: () => act(job.id, 'delete') }, 'Delete')));
  }

  function upsert(job) {
    jobs.set(job.id, job);
    const focused = document.activeElement && document.activeElement.getAttribute('data-focus');
    const fresh = renderJob(job);
    const old = $('job-' + job.id);
    if (old) old.replaceWith(fresh);
    else $('jobs').prepend(fresh);
    if (focused) { const again = document.querySelector('[data-focus="' + CSS.escape(focused) + '"]'); if (again) again.focus(); }
    $('jobs-empty').hidden = jobs.size > 0;
  }

  function follow(id) {
    if (streams.has(id)) return;
    const source = new EventSource(withKey(API + '/jobs/' + id + '/events'));
    streams.set(id, source);
    source.addEventListener('job', (e) => upsert(JSON.parse(e.data)));
    const stop = () => { source.close(); streams.delete(id); };
    source.addEventListener('done', stop);
    source.addEventListener('error', (e) => {
      if (e.data || source.readyState === EventSource.CLOSED) { stop(); return; }
      // the browser reconnects by itself, and a restarted server resumes the job: say so meanwhile
      lost = true;
      $('server-state').textContent = 'The server cannot be reached; reconnecting... (unfinished jobs resume when it is back)';
    });
    source.addEventListener('open', () => { if (lost) { lost = false; loadInfo(); } });
  }

  async function act(id, action) {
    try {
      if (action === 'cancel') upsert(await api('/jobs/' + id + '/cancel', { method: 'POST' }));
      else {
        await api('/jobs/' + id, { method: 'DELETE' });
        const node = $('job-' + id);
        if (node) node.remove();
        jobs.delete(id);
        if (streams.has(id)) { streams.get(id).close(); streams.delete(id); }
        if (playing && playing.job === id) $('player-section').hidden = true;
        $('jobs-empty').hidden = jobs.size > 0;
      }
    } catch (err) {
      $('submit-state').textContent = err.message;
    }
  }

  async function loadJobs() {
    try {
      const list = await api('/jobs?limit=100');
      for (const job of list.data.slice().reverse()) {
        upsert(job);
        if (!TERMINAL.includes(job.status)) follow(job.id);
      }
    } catch (err) {
      $('server-state').textContent = err.message;
    }
  }

  // -- the player ------------------------------------------------------------------------------------------
  async function openPlayer(jobId, index) {
    const job = jobs.get(jobId);
    const file = job.files[index];
    const base = rel(job.url) + '/files/' + index;
    const ext = (file.name.split('.').pop() || '').toLowerCase();
    const kind = VIDEO.includes(ext) ? 'video' : 'audio';
    const media = el(kind, { id: 'media', controls: true, preload: 'metadata', src: withKey(base + '/media') });
    const track = el('track', { kind: 'subtitles', label: 'Transcript', srclang: file.language || 'en', default: true, src: withKey(base + '/result.vtt') });
    media.append(track);
    $('media-box').replaceChildren(media);
    track.track.mode = 'showing';
    $('player-name').textContent = file.name + (file.language ? ' · language: ' + file.language : '');
    $('player-downloads').replaceChildren(downloads(file.results, file.name));
    $('player-section').hidden = false;
    playing = { job: jobId, index };
    const list = $('transcript');
    list.replaceChildren(el('li', { text: 'Loading the transcript...' }));
    let data;
    try {
      data = await api('/jobs/' + jobId + '/files/' + index + '/result.json');
      if (typeof data === 'string') data = JSON.parse(data);
    } catch (err) {
      list.replaceChildren(el('li', { class: 'error', text: err.message }));
      return;
    }
    const segments = data.segments || [];
    list.replaceChildren(...segments.map((s, i) => el('li', { 'data-start': s.start, 'data-end': s.end, id: 'seg-' + i },
      el('button', { type: 'button', onclick: () => { media.currentTime = s.start + 0.01; media.play().catch(() => {}); } },
        el('span', { class: 't', text: clock(s.start) }), s.text.trim()))));
    if (!segments.length) list.replaceChildren(el('li', { class: 'muted', text: 'No speech was found.' }));
    let current = -1;
    media.addEventListener('timeupdate', () => {
      const t = media.currentTime;
      const at = segments.findIndex((s) => t >= s.start && t < s.end);
      if (at === current) return;
      if (current >= 0) { const old = $('seg-' + current); if (old) old.classList.remove('current'); }
      current = at;
      if (at >= 0) {
        const now = $('seg-' + at);
        now.classList.add('current');
        now.scrollIntoView({ block: 'nearest' });
      }
    });
    $('player-section').scrollIntoView({ block: 'start' });
  }

  // -- start -----------------------------------------------------------------------------------------------
  $('key-save').addEventListener('click', () => {
    key = $('api-key').value.trim();
    localStorage.setItem('mediakit.key', key);
    $('key-box').hidden = true;
    start();
  });
  $('job-form').addEventListener('submit', submit);
  setupDrop();

  async function start() {
    if (await loadInfo()) await loadJobs();
  }
  start();
})();
