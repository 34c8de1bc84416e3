/**
 * The reason's free text of an export, a print or a break of the glass
 * (shared/contract.ts exportReasonSchema, glassReasonSchema; the desktop's
 * main process, the backend and the renderer's dialogs all parse with
 * them): capped before anything else is done to it, control and format
 * characters (NUL, newlines, zero-width, bidi overrides) gone, invisible
 * fillers gone; 'other' needs a letter or a digit. The dialogs' messages
 * stay the schema's own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXPORT_REASON_TEXT_MAX, exportReasonSchema, glassReasonSchema } from '../shared/contract';

const schemas = [
  ['export', exportReasonSchema, 'referral'],
  ['glass', glassReasonSchema, 'emergency-treatment'],
] as const;

test("'other' with only invisible, control or format characters is refused with the dialog's words", () => {
  const invisible = ['\u200B', '\u2060', '\u3164', '\u2800', '\uFEFF', '\u00AD', '\u115F\u1160', '\uFFA0', '\u0000', '\n\r\t', '\u202E', '\u034F\uFE0F', ' \u00A0\u3000 '];
  for (const [name, schema] of schemas) {
    for (const text of invisible) {
      const r = schema.safeParse({ code: 'other', text });
      assert.equal(r.success, false, `${name}: ${JSON.stringify(text)}`);
      assert.deepEqual(r.error!.issues.map((i) => [i.path.join('.'), i.message]), [['text', 'Say why, in a few words.']], `${name}: ${JSON.stringify(text)}`);
    }
  }
});

test('control and format characters are taken out of the text kept; ordinary words and spaces stay', () => {
  for (const [, schema] of schemas) {
    const r = schema.parse({ code: 'other', text: '  Court\u0000 order\n12\u202E34\u200B \u3164 ' });
    assert.equal(r.text, 'Court order 1234');
    assert.equal(schema.parse({ code: 'other', text: 'Überweisung Dr. Øster' }).text, 'Überweisung Dr. Øster');
    assert.equal(schema.parse({ code: 'other', text: '转诊 2' }).text, '转诊 2');
  }
});

test('the raw text is capped before it is trimmed (megabytes of spaces are refused, not trimmed); the cap on what is kept stays 500', () => {
  for (const [, schema, code] of schemas) {
    const spaces = schema.safeParse({ code, text: ' '.repeat(5_000_000) });
    assert.equal(spaces.success, false);
    assert.deepEqual(spaces.error!.issues.map((i) => [i.path.join('.'), i.message]), [['text', 'Keep the reason under 500 characters.']]);
    assert.equal(schema.safeParse({ code, text: 'a'.repeat(EXPORT_REASON_TEXT_MAX) }).success, true);
    const over = schema.safeParse({ code, text: 'a'.repeat(EXPORT_REASON_TEXT_MAX + 1) });
    assert.deepEqual(over.error!.issues.map((i) => [i.path.join('.'), i.message]), [['text', 'Keep the reason under 500 characters.']]);
    assert.deepEqual(schema.parse({ code, text: '' }), { code, text: '' }, 'a coded reason needs no words');
  }
});
