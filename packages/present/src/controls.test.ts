import { describe, expect, it } from 'vitest';
import { escapeControls, escapeJsonControls, hasControls } from './controls.js';

describe('escapeControls', () => {
  it('shows a terminal attack as text', () => {
    expect(escapeControls('cam\u001b[2J\u001b]0;owned\u0007')).toBe('cam\\u001b[2J\\u001b]0;owned\\u0007');
  });

  it('escapes every class: C0, DEL, C1, bidi, lone surrogates', () => {
    expect(escapeControls('\u0000\t\n\r\u001f')).toBe('\\u0000\\u0009\\u000a\\u000d\\u001f');
    expect(escapeControls('a\u007fb\u0085c\u009b')).toBe('a\\u007fb\\u0085c\\u009b');
    expect(escapeControls('\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069')).toBe(
      '\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069',
    );
    expect(escapeControls('x\ud83dy')).toBe('x\\ud83dy');
    expect(escapeControls('x\ude00')).toBe('x\\ude00');
  });

  it('leaves ordinary Unicode alone, surrogate pairs and joiners included', () => {
    for (const text of ['Kamera Süd 北', 'cam 📷', '👩‍🔧', 'a\u00a0b', 'back\\slash', '']) {
      expect(escapeControls(text)).toBe(text);
      expect(hasControls(text)).toBe(false);
    }
  });

  it('is idempotent (escaped text holds nothing to escape)', () => {
    const once = escapeControls('a\u001b\u202eb');
    expect(escapeControls(once)).toBe(once);
    expect(hasControls('a\u001b')).toBe(true);
    expect(hasControls(once)).toBe(false);
  });
});

describe('escapeJsonControls', () => {
  it('escapes what JSON.stringify leaves raw and still parses to the same value', () => {
    const value = { model: 'cam\u001b[2J\u0085\u202e\u2066x', ok: 'Süd 北 📷' };
    const json = escapeJsonControls(JSON.stringify(value));
    expect(json).toBe('{"model":"cam\\u001b[2J\\u0085\\u202e\\u2066x","ok":"Süd 北 📷"}');
    expect(hasControls(json)).toBe(false);
    expect(JSON.parse(json)).toEqual(value);
  });
});
