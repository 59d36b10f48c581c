import { randomBytes } from 'node:crypto';

/** A file attached to a notification mail (a document's PDF). */
export interface MailAttachment {
  filename: string;
  content: Buffer;
  contentType?: string;
}

/** What a notification mail consists of; every header value is already plain text (no line breaks). */
export interface MimeMessage {
  from: { name: string; address: string };
  to: readonly string[];
  replyTo: string | null;
  subject: string;
  text: string;
  html: string;
  attachments: readonly MailAttachment[];
  /** Without the angle brackets: `<local>@<domain>`. */
  messageId: string;
  date: Date;
}

const CRLF = '\r\n';
/** Header text that needs no encoding: printable ASCII (and spaces). */
const PLAIN_ASCII = /^[\x20-\x7E]*$/;

/**
 * Builds a notification mail as one MIME message (RFC 5322, 2045-2047, 2231) in a single pass: multipart/alternative
 * with the plain-text and HTML parts in base64, inside multipart/mixed when something is attached. nodemailer's
 * composer builds a tree of nodes and streams each part through transforms; for short notification mails that was the
 * larger part of the CPU of sending one (measured in the notifications benchmark), and the message it produces carries
 * nothing this one lacks. The transport still dot-stuffs it on the wire.
 */
export function buildMime(message: MimeMessage): Buffer {
  const boundary = `----saldo-${randomBytes(12).toString('hex')}`;
  const headers = [
    `From: ${mailbox(message.from.name, message.from.address)}`,
    `To: ${message.to.map(address).join(`,${CRLF} `)}`,
    ...(message.replyTo ? [`Reply-To: ${address(message.replyTo)}`] : []),
    `Subject: ${encodeHeaderText(message.subject)}`,
    `Message-ID: <${address(message.messageId)}>`,
    `Date: ${rfc5322Date(message.date)}`,
    'MIME-Version: 1.0',
  ];
  const alternative = [
    `--${boundary}a`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(Buffer.from(message.text, 'utf8')),
    `--${boundary}a`,
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(Buffer.from(message.html, 'utf8')),
    `--${boundary}a--`,
    '',
  ];
  if (message.attachments.length === 0) {
    return Buffer.from([...headers, `Content-Type: multipart/alternative; boundary="${boundary}a"`, '', ...alternative].join(CRLF), 'utf8');
  }
  const parts = [
    ...headers,
    `Content-Type: multipart/mixed; boundary="${boundary}m"`,
    '',
    `--${boundary}m`,
    `Content-Type: multipart/alternative; boundary="${boundary}a"`,
    '',
    ...alternative,
  ];
  for (const attachment of message.attachments) {
    parts.push(
      `--${boundary}m`,
      `Content-Type: ${mediaType(attachment.contentType)}; ${filenameParameter('name', attachment.filename)}`,
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; ${filenameParameter('filename', attachment.filename)}`,
      '',
      base64Lines(attachment.content),
    );
  }
  parts.push(`--${boundary}m--`, '');
  return Buffer.from(parts.join(CRLF), 'utf8');
}

/** `"Display Name" <address>`, the name as a quoted-string when it is ASCII, else as encoded-words (RFC 2047). */
function mailbox(name: string, mail: string): string {
  const clean = oneLine(name);
  if (clean === '') return `<${address(mail)}>`;
  const display = PLAIN_ASCII.test(clean) ? `"${clean.replace(/[\\"]/g, '\\$&')}"` : encodedWords(clean);
  return `${display} <${address(mail)}>`;
}

/** An address as it goes into a header: no line breaks, spaces or angle brackets (settings validate them already). */
function address(value: string): string {
  return value.replace(/[\s<>,"]/g, '');
}

function oneLine(value: string): string {
  return value.replace(/[\u0000-\u001F\u007F]+/g, ' ').trim(); // eslint-disable-line no-control-regex
}

/** Unstructured header text: as it is when printable ASCII and short, else encoded-words. */
function encodeHeaderText(value: string): string {
  const clean = oneLine(value);
  // Text that looks like an encoded-word is encoded too, so a reader does not decode it.
  if (PLAIN_ASCII.test(clean) && clean.length <= 900 && !clean.includes('=?')) return clean;
  return encodedWords(clean);
}

/**
 * RFC 2047 B-encoded words of at most 75 characters each, split between UTF-8 characters (never inside one),
 * separated by folding white space.
 */
function encodedWords(value: string): string {
  const words: string[] = [];
  // 75 - "=?utf-8?B?" - "?=" = 63 base64 characters = 45 bytes, at most.
  const maxBytes = 45;
  let chunk = '';
  let chunkBytes = 0;
  for (const character of value) {
    const bytes = Buffer.byteLength(character, 'utf8');
    if (chunkBytes + bytes > maxBytes) {
      words.push(chunk);
      chunk = '';
      chunkBytes = 0;
    }
    chunk += character;
    chunkBytes += bytes;
  }
  if (chunk !== '') words.push(chunk);
  return words.map((word) => `=?utf-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`).join(`${CRLF} `);
}

/** Base64 in lines of 76 characters (RFC 2045). */
function base64Lines(content: Buffer): string {
  const encoded = content.toString('base64');
  if (encoded.length <= 76) return encoded;
  const lines: string[] = [];
  for (let index = 0; index < encoded.length; index += 76) lines.push(encoded.slice(index, index + 76));
  return lines.join(CRLF);
}

function mediaType(value: string | undefined): string {
  return value && /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i.test(value) ? value : 'application/octet-stream';
}

/** `filename="x.pdf"`, or RFC 2231 `filename*=utf-8''...` when the name is not plain ASCII. */
function filenameParameter(parameter: string, filename: string): string {
  const clean = oneLine(filename);
  if (PLAIN_ASCII.test(clean) && !/["\\]/.test(clean)) return `${parameter}="${clean}"`;
  return `${parameter}*=utf-8''${encodeURIComponent(clean).replace(/['()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Sun, 29 Nov 2026 12:00:00 +0000` (RFC 5322 date-time, UTC). */
function rfc5322Date(date: Date): string {
  const two = (value: number) => String(value).padStart(2, '0');
  return `${DAYS[date.getUTCDay()]}, ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
}
