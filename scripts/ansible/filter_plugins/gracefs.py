# gracefs.py - Jinja filters for the gracefs fleet playbooks
# (gracefs-undo.yml, gracefs-hold.yml).
#
# Ansible loads this file because it sits in filter_plugins/ next to the
# playbooks.  The filters run on the controller only; they never touch a
# node.  They turn gracectl's --json output into small per-node records and
# the per-node records into the fleet summary and the plan file, so the
# playbooks stay a readable list of steps.  Errors in operator input raise
# AnsibleFilterError with a one-line message, which fails the play before
# any node is asked to change anything.
#
# Node records (the fact gracefs_node of each host):
#   dry run   {status: plan|nothing|error, token, ops, sites, items, bytes,
#              conflicts, op_ids, site_names, conflict_list, error}
#   execute   {status: restored|partial|nothing|changed|skipped|error, ...}
#   hold      {status: done|nothing|absent|error, ids, error}

import calendar
import json
import os
import re
import time

from ansible.errors import AnsibleFilterError

_UNITS = {'w': 604800, 'd': 86400, 'h': 3600, 'm': 60, 's': 1}
_FORMATS = ('%Y-%m-%dT%H:%M:%SZ', '%Y%m%dT%H%M%SZ', '%Y-%m-%d')
_NO_MATCH = 'no operation matches'


def _epoch(value, what='time'):
    """Seconds since the epoch for a gracectl time: 2026-11-27T13:05:12Z,
    20261127T130512Z, 2026-11-27, or a duration before now (90s, 2h, 1d12h).
    A bare number is refused (seconds? hours?)."""
    s = str(value).strip()
    for f in _FORMATS:
        try:
            return calendar.timegm(time.strptime(s, f))
        except ValueError:
            pass
    if re.fullmatch(r'(\d+[wdhms])+', s):
        ago = sum(int(n) * _UNITS[u] for n, u in re.findall(r'(\d+)([wdhms])', s))
        if ago > 0:
            return int(time.time()) - ago
    raise AnsibleFilterError(
        "gracefs: bad %s '%s' (2026-11-27T13:05:12Z, 2026-11-27, or a duration "
        "ago like 2h)" % (what, s))


def _utc(epoch):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))


def gracefs_utc(value, what='time'):
    """An operator's time as absolute UTC.  Relative times are fixed once,
    on the controller, so that every node and the later --execute run
    select the same window."""
    return _utc(_epoch(value, what))


def gracefs_abspath(path):
    """PATH relative to the directory ansible-playbook was started in (file
    lookups would resolve it against the playbook's directory)."""
    return os.path.abspath(os.path.expanduser(str(path)))


def _given(v):
    return v is not None and str(v).strip() != ''


def _site_name(site):
    s = str(site).strip()
    if s.startswith('site:'):
        s = s[5:]
    if not s or '/' in s or s in ('.', '..') or s == '.trash':
        raise AnsibleFilterError("gracefs: bad site '%s' (a top-level directory name, "
                                 "optionally written site:NAME)" % site)
    return s


def gracefs_undo_args(since, until=None, site=None, uid=None, command=None, script=None):
    """The arguments of `gracectl undo` for the selection, times made
    absolute.  Checked here so a typo fails on the controller."""
    if not _given(since):
        raise AnsibleFilterError("gracefs: since=TIME is required for a dry run "
                                 "(or give plan=FILE to execute a reviewed plan)")
    args = ['--since', gracefs_utc(since, 'since')]
    if _given(until):
        args += ['--until', gracefs_utc(until, 'until')]
        if _epoch(args[3]) <= _epoch(args[1]):
            raise AnsibleFilterError("gracefs: until (%s) is not after since (%s)"
                                     % (args[3], args[1]))
    if _given(uid):
        if not re.fullmatch(r'\d{1,10}', str(uid).strip()) or int(uid) > 4294967295:
            raise AnsibleFilterError("gracefs: bad uid '%s' (a number)" % uid)
        args += ['--uid', str(int(uid))]
    if _given(command):
        args += ['--command', str(command)]
    if _given(script):   # the run's leader: run IDs (pids) differ across nodes
        args += ['--script', str(script)]
    if _given(site):
        args += ['--site', _site_name(site)]
    return args


def _first_line(text):
    for line in str(text or '').splitlines():
        if line.strip():
            return line.strip()
    return ''


def _gracectl_error(res):
    """One line saying why a gracectl call failed."""
    if res.get('unreachable'):
        return 'unreachable: ' + _first_line(res.get('msg'))
    msg = _first_line(res.get('stderr')) or _first_line(res.get('msg'))
    return msg or 'gracectl exited with status %s' % res.get('rc')


def _json_out(res):
    try:
        return json.loads(res.get('stdout') or '')
    except ValueError:
        return None


_NOTHING = {'status': 'nothing', 'token': None, 'ops': 0, 'sites': 0, 'items': 0,
            'bytes': 0, 'conflicts': 0, 'mkdirs': 0, 'op_ids': [], 'site_names': [],
            'conflict_list': []}


def _conflict_rows(out):
    """The dry run's conflicting steps: `conflict_list` (gracectl's count is
    `conflicts`); older gracectl printed the list as `conflicts`."""
    rows = out.get('conflict_list')
    if rows is None and isinstance(out.get('conflicts'), list):
        rows = out.get('conflicts')
    return rows or []


def gracefs_dry(res):
    """A node's `gracectl --json undo …` dry run as a node record."""
    out = _json_out(res) if res.get('rc') == 0 else None
    if isinstance(out, dict) and out.get('dry_run'):
        plan = out.get('plan') or []
        # an op just emptied by an undo stays listed until the daemon has
        # settled it, with nothing left to move: that node is done
        if not sum(int(p.get('moves', 0)) for p in plan):
            return dict(_NOTHING)
        return {
            'status': 'plan', 'token': out.get('token'),
            'ops': int(out.get('ops', 0)), 'sites': int(out.get('sites', 0)),
            'items': int(out.get('items', 0)), 'bytes': int(out.get('bytes', 0)),
            'conflicts': int(out.get('renamed', 0)), 'mkdirs': int(out.get('mkdirs', 0)),
            'op_ids': [p.get('op') for p in plan],
            'site_names': sorted({s for p in plan
                                  for s in str(p.get('site', '')).split(',') if s}),
            'conflict_list': ['%s: %s -> %s' % (c.get('op'), c.get('from'), c.get('to'))
                              for c in _conflict_rows(out)],
        }
    if res.get('rc') == 1 and _NO_MATCH in str(res.get('stderr')):
        return dict(_NOTHING)
    return {'status': 'error', 'error': _gracectl_error(res)}


def gracefs_plan_entry(node, backing, args, host):
    """What the plan file keeps of a node's dry run."""
    entry = {'backing': backing, 'args': args, 'planned': _utc(int(time.time()))}
    keys = ('token', 'ops', 'sites', 'items', 'bytes', 'conflicts', 'op_ids',
            'site_names', 'conflict_list', 'error')
    entry.update({k: node[k] for k in keys if k in node})
    if node.get('status') not in ('plan', 'nothing'):
        entry['token'] = None
        entry['error'] = node.get('error') or 'no dry run'
    return entry


def _node(hostvars, host):
    try:
        n = hostvars[host].get('gracefs_node')
    except (KeyError, AttributeError):
        n = None
    return n if isinstance(n, dict) else {'status': 'error', 'error': 'no result (unreachable?)'}


def gracefs_plan_file(hostvars, hosts):
    """{host: plan entry} for every host of the play."""
    plan = {}
    for h in hosts:
        try:
            e = hostvars[h].get('gracefs_entry')
        except (KeyError, AttributeError):
            e = None
        plan[h] = e if isinstance(e, dict) else {
            'token': None, 'error': _node(hostvars, h).get('error', 'no dry run')}
    return plan


def gracefs_read_plan(path):
    """The plan file at PATH (on the controller), checked."""
    path = gracefs_abspath(path)
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise AnsibleFilterError("gracefs: cannot read plan file %s: %s" % (path, e.strerror))
    return gracefs_load_plan(text, path)


def gracefs_load_plan(text, path):
    try:
        plan = json.loads(text)
    except ValueError as e:
        raise AnsibleFilterError("gracefs: %s is not a plan file: %s" % (path, e))
    if not isinstance(plan, dict) or not all(
            isinstance(v, dict) and 'token' in v and isinstance(v.get('args', []), list)
            for v in plan.values()):
        raise AnsibleFilterError("gracefs: %s is not a plan file (host -> {token, args, "
                                 "…}); write one with a dry run" % path)
    return plan


def gracefs_verdict(current, entry, backing):
    """What to do on a node at execute time: its reviewed plan entry
    against a fresh dry run with the same arguments."""
    if not isinstance(entry, dict):
        return {'status': 'skipped', 'error': 'not in the plan file'}
    if entry.get('error'):
        return {'status': 'skipped', 'error': 'no reviewed plan: ' + entry['error']}
    if entry.get('backing') != backing:
        return {'status': 'skipped', 'error': 'backing is %s, the plan was made for %s'
                % (backing, entry.get('backing'))}
    if current.get('status') == 'error':
        return current
    if current.get('status') == 'nothing':
        return {'status': 'nothing'}
    if current.get('token') != entry.get('token'):
        return {'status': 'changed',
                'error': 'plan changed since the dry run (reviewed %s op(s), %s item(s); '
                         'now %s op(s), %s item(s)): left unchanged'
                         % (entry.get('ops', 0), entry.get('items', 0),
                            current.get('ops'), current.get('items'))}
    return {'status': 'execute', 'token': entry['token']}


def gracefs_executed(res, verdict, current):
    """A node's `gracectl --json undo … --execute TOKEN` as a node record."""
    if verdict.get('status') != 'execute':
        return verdict
    if res.get('skipped'):   # --check
        return {'status': 'check', 'site_names': current.get('site_names', []),
                'ops': current.get('ops', 0), 'items': current.get('items', 0)}
    out = _json_out(res)
    if out and out.get('executed'):
        bad = int(out.get('failed_ops', 0)) + int(out.get('failed', 0))
        return {
            'status': 'partial' if bad or res.get('rc') else 'restored',
            'ops': int(out.get('ops', 0)), 'moved': int(out.get('moved', 0)),
            'renamed': int(out.get('renamed', 0)), 'mkdirs': int(out.get('mkdirs', 0)),
            'failed': int(out.get('failed', 0)), 'failed_ops': int(out.get('failed_ops', 0)),
            'site_names': current.get('site_names', []),
            'events': ['%s: %s %s%s' % (e.get('op'), e.get('event'), e.get('from'),
                                        ' -> ' + e['to'] if e.get('to') else '')
                       for e in out.get('events') or []],
            'error': _first_line(res.get('stderr')),
        }
    if 'plan changed' in str(res.get('stderr')):
        return {'status': 'changed', 'error': 'plan changed while executing: left unchanged'}
    return {'status': 'error', 'error': _gracectl_error(res)}


def _some(names, noun='sites', limit=8):
    """NAMES joined, the first few only when there are many."""
    names = list(names or [])
    if len(names) > limit:
        return ', '.join(names[:limit]) + ', … (%d %s)' % (len(names), noun)
    return ', '.join(names)


def gracefs_dry_summary(hostvars, hosts):
    """The dry run's fleet summary, one line per node, then the totals."""
    lines, tot, bad = [], dict.fromkeys(('ops', 'sites', 'items', 'bytes', 'conflicts'), 0), 0
    for h in sorted(hosts):
        n = _node(hostvars, h)
        if n.get('status') == 'error':
            bad += 1
            lines.append('%s: ERROR %s' % (h, n.get('error')))
            continue
        for k in tot:
            tot[k] += n.get(k, 0)
        if n.get('status') == 'nothing':
            lines.append('%s: nothing to undo' % h)
            continue
        lines.append('%s: %d op(s) in %d site(s), %d item(s), %d byte(s), %d conflict(s); '
                     'token %s; sites: %s' % (h, n['ops'], n['sites'], n['items'], n['bytes'],
                                              n['conflicts'], n['token'], _some(n['site_names'])))
        lines += ['%s:   conflict %s' % (h, c) for c in n.get('conflict_list', [])]
    lines.append('fleet: %d node(s), %d op(s), %d site(s), %d item(s), %d byte(s), '
                 '%d conflict(s), %d node(s) failed' % (len(hosts), tot['ops'], tot['sites'],
                                                       tot['items'], tot['bytes'],
                                                       tot['conflicts'], bad))
    return lines


def gracefs_exec_summary(hostvars, hosts):
    """The execute run's fleet summary: what was restored where, and which
    nodes were left alone and why."""
    lines, counts = [], {}
    moved = renamed = ops = 0
    for h in sorted(hosts):
        n = _node(hostvars, h)
        st = n.get('status', 'error')
        counts[st] = counts.get(st, 0) + 1
        if st in ('restored', 'partial'):
            ops += n['ops']
            moved += n['moved']
            renamed += n['renamed']
            lines.append('%s: %s %d op(s) in %s: %d item(s) to their original paths, %d next '
                         'to a taken name, %d parent(s) recreated, %d failed%s'
                         % (h, 'RESTORED' if st == 'restored' else 'PARTLY restored',
                            n['ops'], _some(n['site_names']) or '-', n['moved'],
                            n['renamed'], n['mkdirs'], n['failed'],
                            ' (%s)' % n['error'] if st == 'partial' and n.get('error') else ''))
            lines += ['%s:   %s' % (h, e) for e in n.get('events', [])]
        elif st == 'nothing':
            lines.append('%s: nothing to do (already undone)' % h)
        elif st == 'check':
            lines.append('%s: would restore %d op(s), %d item(s) in %s (check mode)'
                         % (h, n['ops'], n['items'], _some(n['site_names'])))
        elif st == 'changed':
            lines.append('%s: REFUSED %s' % (h, n.get('error')))
        elif st == 'skipped':
            lines.append('%s: SKIPPED %s' % (h, n.get('error')))
        else:
            lines.append('%s: ERROR %s' % (h, n.get('error')))
    lines.append('fleet: %d node(s): %d restored (%d op(s), %d item(s) back, %d under a new '
                 'name), %d partly, %d nothing to do, %d refused (plan changed), %d skipped, '
                 '%d failed' % (len(hosts), counts.get('restored', 0), ops, moved + renamed,
                                renamed, counts.get('partial', 0), counts.get('nothing', 0),
                                counts.get('changed', 0), counts.get('skipped', 0),
                                counts.get('error', 0))
                 + (', %d would act (check mode)' % counts['check'] if 'check' in counts else ''))
    return lines


def gracefs_unfinished(hostvars, hosts,
                       done=('restored', 'nothing', 'plan', 'done', 'absent', 'check')):
    """Hosts whose record says they need the operator's attention."""
    return sorted(h for h in hosts if _node(hostvars, h).get('status') not in done)


# ---- holds ----

def gracefs_hold_request(action, site=None, since=None, until=None):
    """The freeze request, checked and with absolute times."""
    if action not in ('hold', 'release'):
        raise AnsibleFilterError("gracefs: bad action '%s' (hold or release)" % action)
    if not _given(site) and not _given(since):
        raise AnsibleFilterError("gracefs: give site=NAME (the site) or since=TIME "
                                 "[until=TIME] [site=NAME] (the ops deleted in that window)")
    if _given(until) and not _given(since):
        raise AnsibleFilterError("gracefs: until=TIME needs since=TIME")
    req = {'action': action, 'site': _site_name(site) if _given(site) else None,
           'since': gracefs_utc(since, 'since') if _given(since) else None,
           'until': gracefs_utc(until, 'until') if _given(until) else None}
    if req['until'] and _epoch(req['until']) <= _epoch(req['since']):
        raise AnsibleFilterError("gracefs: until (%s) is not after since (%s)"
                                 % (req['until'], req['since']))
    req['mode'] = 'window' if req['since'] else 'site'
    return req


def _to_change(rows, action, keep=lambda r: True):
    """Typed IDs of the ls rows kept whose own hold the action would change.
    An op frozen only by its site's hold (hold true, own_hold false) is not
    held itself: a window hold must hold it, or the site's release would
    unfreeze it (issue 19 item 10).  Older gracectl: hold alone."""
    return [r.get('op') for r in rows
            if keep(r) and bool(r.get('own_hold', r.get('hold'))) == (action == 'release')]


def gracefs_hold_targets(ls_res, req, site_res=None, root_res=None):
    """A node's freeze as a node record: the IDs to hold or release there.
    Window: the ops whose last deletion is in [since, until) (of the site
    when given), as `gracectl --json ls` lists them.  Site: site:NAME while
    the site is live; once it was deleted whole, the ops holding it."""
    act = req['action']
    rows = _json_out(ls_res) if ls_res.get('rc') == 0 else None
    if not isinstance(rows, list):
        return {'status': 'error', 'error': _gracectl_error(ls_res)}
    if req['mode'] == 'window':
        lo = _epoch(req['since'])
        hi = _epoch(req['until']) if req['until'] else None

        def keep(r):
            t = _epoch(r.get('deleted'))
            return (t >= lo and (hi is None or t < hi)
                    and (not req['site'] or r.get('site') == req['site']))
        window = [r for r in rows if keep(r)]
        ids = _to_change(window, act)
        if not window:
            return {'status': 'absent', 'ids': [], 'note': 'no operation in the window'}
        return {'status': 'done' if ids else 'nothing', 'ids': ids,
                'note': ' (%d op(s) in the window)' % len(window)}
    sites = _json_out(site_res) if site_res and site_res.get('rc') == 0 else None
    if not isinstance(sites, list):
        return {'status': 'error', 'error': _gracectl_error(site_res or {})}
    row = next((r for r in sites if r.get('site') == req['site']), None)
    if row is None:
        return {'status': 'absent', 'ids': [], 'note': 'site %s is not on this node' % req['site']}
    if row.get('state') != 'trashed':
        ids = ['site:' + req['site']] if bool(row.get('hold')) == (act == 'release') else []
        return {'status': 'done' if ids else 'nothing', 'ids': ids}
    roots = set(gracefs_root_ops(root_res or {}))
    if not roots:
        return {'status': 'error',
                'error': 'site %s was deleted whole but no op holding it was found: %s'
                         % (req['site'], _gracectl_error(root_res or {}))}
    ids = _to_change(rows, act, lambda r: r.get('op') in roots)
    return {'status': 'done' if ids else 'nothing', 'ids': ids,
            'note': ' (site %s deleted whole: %s)' % (req['site'], ' '.join(sorted(roots)))}


def gracefs_root_ops(res):
    """The ops holding a deleted whole site: from `gracectl --json ls SITE`
    (a list of op rows; the root op of a deleted site is the site's since
    issue 19), or from an undo dry run restricted to that site (its plan
    and, since held ops are left out of a bulk undo, its held_list)."""
    out = _json_out(res) if res.get('rc') == 0 else None
    if isinstance(out, list):
        rows = out
    elif isinstance(out, dict):
        rows = (out.get('plan') or []) + (out.get('held_list') or [])
    else:
        return []
    return [p.get('op') for p in rows if str(p.get('op', '')).startswith('op:/')]


def gracefs_hold_done(res, node):
    """The node record after `gracectl hold|release IDs…` ran (or not)."""
    if node.get('status') != 'done':
        return node
    if res.get('skipped'):   # --check
        return dict(node, status='check')
    if res.get('rc') != 0 or res.get('unreachable'):
        return {'status': 'error', 'ids': node['ids'], 'error': _gracectl_error(res)}
    # report what really changed: gracectl --json says, per ID, whether it
    # did (an ID already as asked is 'unchanged' and writes no audit row)
    out = _json_out(res)
    if isinstance(out, dict) and isinstance(out.get('results'), list):
        done = [r.get('id') for r in out['results'] if r.get('changed')]
        if not done:
            return dict(node, status='nothing', ids=[], note=' (already so)')
        return dict(node, ids=done)
    return node


def gracefs_hold_summary(hostvars, hosts, action):
    lines, n_ids, counts = [], 0, {}
    for h in sorted(hosts):
        n = _node(hostvars, h)
        st = n.get('status', 'error')
        counts[st] = counts.get(st, 0) + 1
        if st == 'done':
            n_ids += len(n['ids'])
            lines.append('%s: %s %s' % (h, action, _some(n['ids'], 'IDs')))
        elif st == 'check':
            lines.append('%s: would %s %s (check mode)' % (h, action, _some(n['ids'], 'IDs')))
        elif st == 'nothing':
            lines.append('%s: nothing to %s%s' % (h, action, n.get('note', '')))
        elif st == 'absent':
            lines.append('%s: %s' % (h, n.get('note', 'not on this node')))
        else:
            lines.append('%s: ERROR %s' % (h, n.get('error')))
    lines.append('fleet: %d node(s): %s %d ID(s) on %d node(s), %d already %s, %d without '
                 'it, %d failed' % (len(hosts), 'held' if action == 'hold' else 'released',
                                    n_ids, counts.get('done', 0), counts.get('nothing', 0),
                                    'held' if action == 'hold' else 'released',
                                    counts.get('absent', 0), counts.get('error', 0))
                 + (', %d would act (check mode)' % counts['check'] if 'check' in counts else ''))
    return lines


class FilterModule(object):
    def filters(self):
        return {f.__name__: f for f in (
            gracefs_utc, gracefs_abspath, gracefs_undo_args, gracefs_dry, gracefs_plan_entry,
            gracefs_plan_file, gracefs_read_plan, gracefs_verdict, gracefs_executed,
            gracefs_dry_summary, gracefs_exec_summary, gracefs_unfinished, gracefs_hold_request,
            gracefs_hold_targets, gracefs_hold_done, gracefs_hold_summary)}
