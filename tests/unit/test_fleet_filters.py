#!/usr/bin/env python3
# test_fleet_filters.py - unit tests of scripts/ansible/filter_plugins/gracefs.py,
# the logic of the fleet playbooks: time and argument checks, reading
# gracectl's JSON, the execute verdict, summaries.  TAP on stdout; skips
# (1..0 # SKIP) when Ansible's Python modules are not installed.

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'scripts', 'ansible', 'filter_plugins'))
try:
    import gracefs as g
    from ansible.errors import AnsibleFilterError
except ImportError as e:
    # ansible may live under another interpreter than the first python3 on
    # PATH: the one named in ansible-playbook's #! line
    import shutil
    pb = shutil.which('ansible-playbook')
    if pb and not os.environ.get('GRACEFS_REEXEC'):
        with open(pb) as f:
            py = f.readline()[2:].split()
        if py and os.access(py[0], os.X_OK) and os.path.realpath(py[0]) != os.path.realpath(sys.executable):
            os.environ['GRACEFS_REEXEC'] = '1'
            os.execv(py[0], py + [os.path.abspath(__file__)] + sys.argv[1:])
    print('1..0 # SKIP ansible is not installed (%s)' % e)
    sys.exit(0)


def res(rc=0, stdout='', stderr='', **kw):
    d = {'rc': rc, 'stdout': stdout, 'stderr': stderr}
    d.update(kw)
    return d


DRY = ('{"dry_run":true,"token":"584dcccc3692","ops":2,"sites":2,"items":6,"bytes":24576,'
       '"renamed":1,"mkdirs":0,"skipped_purging":0,"plan":['
       '{"op":"op:/20261130T105704Z-rm-7178","site":"s3","items":4,"bytes":16384,"moves":1},'
       '{"op":"op:s1/20261130T105703Z-rm-7175","site":"s1","items":2,"bytes":8192,"moves":1}],'
       '"conflicts":[{"op":"op:s1/20261130T105703Z-rm-7175","action":"rename","from":"d",'
       '"to":"d.restored-20261130T105703Z-rm-7175"}]}')
SETTLING = DRY.replace('"moves":1', '"moves":0')
LS = ('[{"op":"op:/20261130T105805Z-rm-1","site":"/","deleted":"2026-11-30T10:58:05Z","hold":false},'
      '{"op":"op:s2/20261130T105805Z-rm-2","site":"s2","deleted":"2026-11-30T10:58:05Z","hold":true},'
      '{"op":"op:s2/20261130T100000Z-rm-3","site":"s2","deleted":"2026-11-30T10:00:00Z","hold":false}]')


class Hostvars(dict):
    """hostvars as the filters see them: host -> its variables."""


class Times(unittest.TestCase):
    def test_formats(self):
        for s in ('2026-11-27T13:05:12Z', '20261127T130512Z'):
            self.assertEqual(g.gracefs_utc(s), '2026-11-27T13:05:12Z')
        self.assertEqual(g.gracefs_utc('2026-11-27'), '2026-11-27T00:00:00Z')

    def test_durations_become_absolute(self):
        now = int(time.time())
        for s, ago in (('90s', 90), ('2h', 7200), ('1d12h', 129600), ('2w', 1209600)):
            t = g._epoch(g.gracefs_utc(s))
            self.assertTrue(now - ago - 2 <= t <= now - ago + 2, s)

    def test_bad_times(self):
        for s in ('yesterday', '90', '', '2026-13-01', '5x', '0s', '2026-11-27 13:05'):
            with self.assertRaises(AnsibleFilterError):
                g.gracefs_utc(s)


class UndoArgs(unittest.TestCase):
    def test_all(self):
        self.assertEqual(
            g.gracefs_undo_args('2026-11-27T13:05:12Z', '2026-11-27T14:00:00Z', 'site:acme',
                                '1000', 'rm'),
            ['--since', '2026-11-27T13:05:12Z', '--until', '2026-11-27T14:00:00Z',
             '--uid', '1000', '--command', 'rm', '--site', 'acme'])

    def test_script(self):
        self.assertEqual(g.gracefs_undo_args('2026-11-27T13:05:12Z', None, None, None, None,
                                             'cleanup.sh'),
                         ['--since', '2026-11-27T13:05:12Z', '--script', 'cleanup.sh'])

    def test_optional_left_out(self):
        self.assertEqual(g.gracefs_undo_args('2026-11-27', None, '', None, None),
                         ['--since', '2026-11-27T00:00:00Z'])

    def test_refused(self):
        for a in ((None,), ('2026-11-27', '2026-11-26'), ('2026-11-27', None, 'a/b'),
                  ('2026-11-27', None, '.trash'), ('2026-11-27', None, None, '-1'),
                  ('2026-11-27', None, None, 'root'), ('2026-11-27', None, None, '99999999999')):
            with self.assertRaises(AnsibleFilterError, msg=repr(a)):
                g.gracefs_undo_args(*a)


class DryRun(unittest.TestCase):
    def test_plan(self):
        n = g.gracefs_dry(res(stdout=DRY))
        self.assertEqual((n['status'], n['token'], n['ops'], n['sites'], n['items'],
                          n['conflicts']), ('plan', '584dcccc3692', 2, 2, 6, 1))
        self.assertEqual(n['site_names'], ['s1', 's3'])
        self.assertEqual(n['op_ids'][0], 'op:/20261130T105704Z-rm-7178')
        self.assertIn('d -> d.restored-', n['conflict_list'][0])

    def test_nothing(self):
        n = g.gracefs_dry(res(1, stderr='gracectl: error: no operation matches\n'))
        self.assertEqual((n['status'], n['token'], n['ops']), ('nothing', None, 0))

    def test_settling_ops_are_nothing(self):
        self.assertEqual(g.gracefs_dry(res(stdout=SETTLING))['status'], 'nothing')

    def test_errors(self):
        n = g.gracefs_dry(res(1, stderr='gracectl: error: cannot open index: No such file\n'))
        self.assertEqual(n, {'status': 'error',
                             'error': 'gracectl: error: cannot open index: No such file'})
        n = g.gracefs_dry({'unreachable': True, 'msg': 'ssh: no route\nmore'})
        self.assertEqual(n['error'], 'unreachable: ssh: no route')
        self.assertEqual(g.gracefs_dry(res(0, stdout='not json'))['status'], 'error')

    def test_plan_entry_and_file(self):
        n = g.gracefs_dry(res(stdout=DRY))
        e = g.gracefs_plan_entry(n, '/srv/backing', ['--since', 'X'], 'node1')
        self.assertEqual((e['token'], e['ops'], e['items'], e['backing'], e['args']),
                         ('584dcccc3692', 2, 6, '/srv/backing', ['--since', 'X']))
        bad = g.gracefs_plan_entry({'status': 'error', 'error': 'boom'}, '/b', [], 'node2')
        self.assertEqual((bad['token'], bad['error']), (None, 'boom'))
        hv = Hostvars(node1={'gracefs_entry': e}, node2={'gracefs_entry': bad}, node3={})
        plan = g.gracefs_plan_file(hv, ['node1', 'node2', 'node3'])
        self.assertEqual(sorted(plan), ['node1', 'node2', 'node3'])
        self.assertIsNone(plan['node3']['token'])

    def test_load_plan(self):
        self.assertEqual(g.gracefs_load_plan('{"n": {"token": null}}', 'p'),
                         {'n': {'token': None}})
        for text in ('', '[]', '{"n": 1}', '{"n": {"ops": 1}}', '{"n": {"token": "a", "args": "x"}}'):
            with self.assertRaises(AnsibleFilterError, msg=text):
                g.gracefs_load_plan(text, 'p')


class Verdict(unittest.TestCase):
    entry = {'token': '584dcccc3692', 'backing': '/b', 'ops': 2, 'items': 6, 'args': []}

    def v(self, current, entry=None, backing='/b'):
        return g.gracefs_verdict(current, self.entry if entry is None else entry, backing)

    def test_execute_when_unchanged(self):
        self.assertEqual(self.v(g.gracefs_dry(res(stdout=DRY))),
                         {'status': 'execute', 'token': '584dcccc3692'})

    def test_changed_is_refused(self):
        cur = g.gracefs_dry(res(stdout=DRY.replace('584dcccc3692', '000000000000')))
        v = self.v(cur)
        self.assertEqual(v['status'], 'changed')
        self.assertIn('reviewed 2 op(s), 6 item(s)', v['error'])
        self.assertNotIn('000000000000', v['error'])   # the new token is not revealed

    def test_done_is_nothing(self):
        self.assertEqual(self.v(g.gracefs_dry(res(1, stderr='no operation matches')))['status'],
                         'nothing')
        self.assertEqual(self.v(g.gracefs_dry(res(stdout=SETTLING)))['status'], 'nothing')

    def test_skips(self):
        cur = g.gracefs_dry(res(stdout=DRY))
        self.assertEqual(g.gracefs_verdict(cur, None, '/b')['status'], 'skipped')
        self.assertEqual(g.gracefs_verdict(cur, 'None', '/b')['status'], 'skipped')
        self.assertEqual(self.v(cur, dict(self.entry, error='x', token=None))['status'], 'skipped')
        self.assertIn('the plan was made for /b', self.v(cur, backing='/other')['error'])

    def test_executed(self):
        ok = res(stdout='{"executed":true,"ops":2,"failed_ops":0,"moved":1,"renamed":1,'
                        '"mkdirs":0,"failed":0,"events":[{"op":"op:s1/x","event":"renamed",'
                        '"from":"d","to":"d.restored-x"}]}')
        verdict = {'status': 'execute', 'token': 't'}
        n = g.gracefs_executed(ok, verdict, {'site_names': ['s1', 's3']})
        self.assertEqual((n['status'], n['moved'], n['renamed'], n['site_names']),
                         ('restored', 1, 1, ['s1', 's3']))
        self.assertEqual(n['events'], ['op:s1/x: renamed d -> d.restored-x'])
        part = dict(ok, rc=1, stdout=ok['stdout'].replace('"failed":0', '"failed":1'))
        self.assertEqual(g.gracefs_executed(part, verdict, {})['status'], 'partial')
        raced = res(1, stderr='gracectl: error: the plan changed since the dry run (…)')
        self.assertEqual(g.gracefs_executed(raced, verdict, {})['status'], 'changed')
        self.assertEqual(g.gracefs_executed(res(1, stderr='boom'), verdict, {})['status'], 'error')
        self.assertEqual(g.gracefs_executed({'skipped': True}, verdict, {})['status'], 'check')
        self.assertEqual(g.gracefs_executed({}, {'status': 'nothing'}, {}), {'status': 'nothing'})


class Summaries(unittest.TestCase):
    def test_dry(self):
        hv = Hostvars(a={'gracefs_node': g.gracefs_dry(res(stdout=DRY))},
                      b={'gracefs_node': g.gracefs_dry(res(1, stderr='no operation matches'))},
                      c={})
        lines = g.gracefs_dry_summary(hv, ['c', 'a', 'b'])
        self.assertTrue(lines[0].startswith('a: 2 op(s) in 2 site(s), 6 item(s)'))
        self.assertEqual(lines[2], 'b: nothing to undo')
        self.assertTrue(lines[3].startswith('c: ERROR'))
        self.assertEqual(lines[-1], 'fleet: 3 node(s), 2 op(s), 2 site(s), 6 item(s), '
                                    '24576 byte(s), 1 conflict(s), 1 node(s) failed')
        self.assertEqual(g.gracefs_unfinished(hv, ['a', 'b', 'c']), ['c'])

    def test_exec(self):
        hv = Hostvars(a={'gracefs_node': {'status': 'restored', 'ops': 2, 'moved': 2,
                                          'renamed': 0, 'mkdirs': 0, 'failed': 0,
                                          'site_names': ['s1'], 'events': []}},
                      b={'gracefs_node': {'status': 'changed', 'error': 'plan changed'}},
                      c={'gracefs_node': {'status': 'nothing'}})
        lines = g.gracefs_exec_summary(hv, ['a', 'b', 'c'])
        self.assertTrue(lines[0].startswith('a: RESTORED 2 op(s) in s1: 2 item(s)'))
        self.assertEqual(lines[1], 'b: REFUSED plan changed')
        self.assertEqual(lines[2], 'c: nothing to do (already undone)')
        self.assertIn('1 restored', lines[-1])
        self.assertEqual(g.gracefs_unfinished(hv, ['a', 'b', 'c']), ['b'])


class Holds(unittest.TestCase):
    def test_request(self):
        r = g.gracefs_hold_request('hold', 'site:acme')
        self.assertEqual((r['mode'], r['site'], r['since']), ('site', 'acme', None))
        r = g.gracefs_hold_request('release', None, '2026-11-30', '2026-12-01')
        self.assertEqual((r['mode'], r['since'], r['until']),
                         ('window', '2026-11-30T00:00:00Z', '2026-12-01T00:00:00Z'))
        for a in (('freeze', 'x'), ('hold',), ('hold', None, None, '2026-11-30'),
                  ('hold', None, '2026-11-30', '2026-11-29'), ('hold', '../x')):
            with self.assertRaises(AnsibleFilterError, msg=repr(a)):
                g.gracefs_hold_request(*a)

    def test_window(self):
        req = g.gracefs_hold_request('hold', None, '2026-11-30T10:30:00Z')
        n = g.gracefs_hold_targets(res(stdout=LS), req)
        # the held op is left alone, the one before since too
        self.assertEqual((n['status'], n['ids']), ('done', ['op:/20261130T105805Z-rm-1']))
        req = g.gracefs_hold_request('release', 's2', '2026-11-30T10:30:00Z')
        self.assertEqual(g.gracefs_hold_targets(res(stdout=LS), req)['ids'],
                         ['op:s2/20261130T105805Z-rm-2'])
        req = g.gracefs_hold_request('hold', None, '2026-11-30T10:30:00Z', '2026-11-30T10:58:05Z')
        self.assertEqual(g.gracefs_hold_targets(res(stdout=LS), req)['status'], 'absent')
        req = g.gracefs_hold_request('hold', 's2', '2026-11-30T10:30:00Z')
        self.assertEqual(g.gracefs_hold_targets(res(stdout=LS), req)['status'], 'nothing')
        self.assertEqual(g.gracefs_hold_targets(res(1, stderr='boom'), req)['status'], 'error')

    def test_site(self):
        sites = res(stdout='[{"site":"s1","state":"active","hold":false},'
                           '{"site":"s2","state":"active","hold":true},'
                           '{"site":"s3","state":"trashed","hold":false}]')
        ls = res(stdout=LS)
        t = lambda act, s, roots=None: g.gracefs_hold_targets(
            ls, g.gracefs_hold_request(act, s), sites, roots)
        self.assertEqual(t('hold', 's1')['ids'], ['site:s1'])
        self.assertEqual(t('hold', 's2')['status'], 'nothing')
        self.assertEqual(t('release', 's2')['ids'], ['site:s2'])
        self.assertEqual(t('hold', 's9')['status'], 'absent')
        roots = res(stdout='{"dry_run":true,"plan":[{"op":"op:/20261130T105805Z-rm-1","site":"s3"},'
                           '{"op":"op:s3/x","site":"s3"}]}')
        self.assertEqual(t('hold', 's3', roots)['ids'], ['op:/20261130T105805Z-rm-1'])
        # ls s3 (the playbook's source now) and a dry run's held_list
        by_ls = res(stdout='[{"op":"op:/20261130T105805Z-rm-1","site":"s3"},{"op":"op:s3/x"}]')
        self.assertEqual(g.gracefs_root_ops(by_ls), ['op:/20261130T105805Z-rm-1'])
        held = res(stdout='{"plan":[],"held_list":[{"op":"op:/20261130T105805Z-rm-1"}]}')
        self.assertEqual(g.gracefs_root_ops(held), ['op:/20261130T105805Z-rm-1'])
        self.assertEqual(t('hold', 's3', res(1, stderr='no operation matches'))['status'], 'error')

    def test_done(self):
        node = {'status': 'done', 'ids': ['site:s1']}
        self.assertEqual(g.gracefs_hold_done(res(0), node), node)
        self.assertEqual(g.gracefs_hold_done(res(2, stderr='gracectl: error: unknown site'),
                                             node)['status'], 'error')
        self.assertEqual(g.gracefs_hold_done({'skipped': True}, node)['status'], 'check')
        # what really changed: gracectl --json's results, not the IDs asked
        two = {'status': 'done', 'ids': ['op:a/1', 'op:a/2', 'op:a/3']}
        out = res(stdout='{"command":"release","ok":true,"results":['
                         '{"id":"op:a/1","changed":true,"note":null},'
                         '{"id":"op:a/2","changed":false,"note":"not held"},'
                         '{"id":"op:a/3","changed":true,"note":null}]}')
        self.assertEqual(g.gracefs_hold_done(out, two)['ids'], ['op:a/1', 'op:a/3'])
        none = res(stdout='{"command":"hold","ok":true,"results":'
                          '[{"id":"op:a/1","changed":false,"note":"held"}]}')
        self.assertEqual(g.gracefs_hold_done(none, two)['status'], 'nothing')

    def test_own_hold(self):
        """A window hold acts on the op's own flag, not its site's."""
        ls = res(stdout='[{"op":"op:s1/a","deleted":"2026-12-01T00:00:00Z","hold":true,'
                        '"own_hold":false},'
                        '{"op":"op:s1/b","deleted":"2026-12-01T00:00:00Z","hold":true,'
                        '"own_hold":true}]')
        req = g.gracefs_hold_request('hold', since='2026-11-30T00:00:00Z')
        self.assertEqual(g.gracefs_hold_targets(ls, req)['ids'], ['op:s1/a'])
        req = g.gracefs_hold_request('release', since='2026-11-30T00:00:00Z')
        self.assertEqual(g.gracefs_hold_targets(ls, req)['ids'], ['op:s1/b'])


class Tap(unittest.TextTestResult):
    n = 0

    def _line(self, test, ok, note=''):
        Tap.n += 1
        print('%s %d - %s%s' % ('ok' if ok else 'not ok', Tap.n, test.id(), note), flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(test, True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(test, False)
        print('# ' + self._exc_info_to_string(err, test).replace('\n', '\n# '))

    def addError(self, test, err):
        super().addError(test, err)
        self._line(test, False)
        print('# ' + self._exc_info_to_string(err, test).replace('\n', '\n# '))


if __name__ == '__main__':
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    print('1..%d' % suite.countTestCases(), flush=True)
    result = unittest.TextTestRunner(stream=open(os.devnull, 'w'), resultclass=Tap).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
