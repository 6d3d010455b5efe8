/**
 * The host's offer makes the host the DTLS client (peer/rtc/dtls-role.ts), and a
 * real node-datachannel pair negotiates exactly that: receiver passive.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerConnection, cleanup } from 'node-datachannel';
import { offerAsDtlsClient } from '../../peer/rtc/dtls-role.js';

// release node-datachannel's native threads, or this file's process lingers
after(() => cleanup());

const OFFER = ['v=0', 'o=rtc 1 0 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=setup:actpass', 'a=fingerprint:sha-256 AB:CD', ''].join(
  '\r\n',
);

test('offerAsDtlsClient: actpass becomes active, nothing else changes (CRLF kept)', () => {
  const out = offerAsDtlsClient(OFFER);
  assert.equal(out, OFFER.replace('a=setup:actpass', 'a=setup:active'));
  assert.equal(offerAsDtlsClient(OFFER.replace(/\r\n/g, '\n')), OFFER.replace(/\r\n/g, '\n').replace('a=setup:actpass', 'a=setup:active'));
  // an offer that already chose a role is left alone
  const passive = OFFER.replace('actpass', 'passive');
  assert.equal(offerAsDtlsClient(passive), passive);
});

test('node-datachannel honours it: the answer is a=setup:passive, and the pair connects', { timeout: 20_000 }, async () => {
  const config = { iceServers: [], bindAddress: '127.0.0.1', enableIceUdpMux: false };
  const host = new PeerConnection('host', config);
  const rcv = new PeerConnection('rcv', config);
  // Everything below runs inside node-datachannel's callbacks, where an
  // exception aborts the process: nothing may throw there. A candidate can be
  // gathered before the other side holds our description, so each side queues
  // the other's candidates until its remote description is set, as the
  // product does (simple-peer's pending candidates).
  const pending = new Map<PeerConnection, [string, string][]>([
    [host, []],
    [rcv, []],
  ]);
  const hasRemote = new Set<PeerConnection>();
  const failures: unknown[] = [];
  const guarded =
    <A extends unknown[]>(fn: (...a: A) => void) =>
    (...a: A): void => {
      try {
        fn(...a);
      } catch (e) {
        failures.push(e);
      }
    };
  const setRemote = (pc: PeerConnection, sdp: string, type: 'offer' | 'answer'): void => {
    pc.setRemoteDescription(sdp, type);
    hasRemote.add(pc);
    for (const [c, mid] of pending.get(pc)!.splice(0)) pc.addRemoteCandidate(c, mid);
  };
  const addCandidate = (pc: PeerConnection, c: string, mid: string): void => {
    if (hasRemote.has(pc)) pc.addRemoteCandidate(c, mid);
    else pending.get(pc)!.push([c, mid]);
  };
  try {
    let answer = '';
    const opened = new Promise<void>((resolve) => {
      rcv.onDataChannel((dc) => dc.onOpen(() => resolve()));
    });
    host.onLocalDescription(
      guarded((sdp, type) => {
        if (type === 'offer') setRemote(rcv, offerAsDtlsClient(sdp), 'offer');
      }),
    );
    rcv.onLocalDescription(
      guarded((sdp, type) => {
        answer = sdp;
        if (type === 'answer') setRemote(host, sdp, 'answer');
      }),
    );
    host.onLocalCandidate(guarded((c, mid) => addCandidate(rcv, c, mid)));
    rcv.onLocalCandidate(guarded((c, mid) => addCandidate(host, c, mid)));
    const dc = host.createDataChannel('probe');
    await opened;
    assert.deepEqual(failures, []);
    assert.match(answer, /^a=setup:passive\r?$/m);
    dc.close();
  } finally {
    host.close();
    rcv.close();
  }
});
