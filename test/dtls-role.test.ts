/**
 * The host's offer makes the host the DTLS client (peer/dtls-role.ts), and a
 * real node-datachannel pair negotiates exactly that: receiver passive.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerConnection, cleanup } from 'node-datachannel';
import { offerAsDtlsClient } from '../peer/dtls-role.js';

// release node-datachannel's native threads, or this file's process lingers
after(() => cleanup());

const OFFER = ['v=0', 'o=rtc 1 0 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=setup:actpass', 'a=fingerprint:sha-256 AB:CD', ''].join('\r\n');

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
  try {
    let answer = '';
    const opened = new Promise<void>((resolve) => {
      rcv.onDataChannel((dc) => dc.onOpen(() => resolve()));
    });
    host.onLocalDescription((sdp, type) => {
      if (type === 'offer') rcv.setRemoteDescription(offerAsDtlsClient(sdp), 'offer');
    });
    rcv.onLocalDescription((sdp, type) => {
      answer = sdp;
      host.setRemoteDescription(sdp, type);
    });
    host.onLocalCandidate((c, mid) => rcv.addRemoteCandidate(c, mid));
    rcv.onLocalCandidate((c, mid) => host.addRemoteCandidate(c, mid));
    const dc = host.createDataChannel('probe');
    await opened;
    assert.match(answer, /^a=setup:passive\r?$/m);
    dc.close();
  } finally {
    host.close();
    rcv.close();
  }
});
