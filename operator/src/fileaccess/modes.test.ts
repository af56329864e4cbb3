import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODE_PROGRAMS, parseMode, programsFor } from './modes';

test('tracepoint mode loads the plain-load sys_exit program where bpf_rdonly_cast exists, the probe-read one where not', () => {
  assert.deepEqual(programsFor('tracepoint', { inodeArg: 1, rdonlyCast: true }).required, ['hive_tp_sys_exit', 'hive_tp_sched_process_exec']);
  assert.deepEqual(programsFor('tracepoint', { inodeArg: 1, rdonlyCast: false }).required, ['hive_tp_sys_exit_probe_read', 'hive_tp_sched_process_exec']);
});

test('fentry follows the inode_permission prototype; other modes ignore the kernel shape', () => {
  assert.deepEqual(programsFor('fentry', { inodeArg: 0, rdonlyCast: true }).required, ['hive_fentry_inode_permission_pre512']);
  assert.equal(programsFor('fentry', { inodeArg: 1, rdonlyCast: false }), MODE_PROGRAMS.fentry);
  assert.equal(programsFor('kprobe', { inodeArg: 0, rdonlyCast: false }), MODE_PROGRAMS.kprobe);
});

test('parseMode names what is allowed', () => {
  assert.equal(parseMode('tracepoint'), 'tracepoint');
  assert.throws(() => parseMode('raw_tp'), /unknown mode 'raw_tp'; allowed: auto, kprobe, fentry, lsm, tracepoint/);
});

test('fentry that must deny loads fmod_ret on security_inode_permission whatever the prototype; the others ignore deny', () => {
  for (const inodeArg of [0, 1]) assert.deepEqual(programsFor('fentry', { inodeArg, rdonlyCast: true }, true).required, ['hive_fmodret_security_inode_permission']);
  assert.equal(programsFor('lsm', { inodeArg: 1, rdonlyCast: true }, true), MODE_PROGRAMS.lsm);
});
