import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';

/**
 * pdfmake 0.3's server-side printer, used directly: its layout engine draws into a pdfkit document that we finish
 * ourselves (PDF/A-3 metadata, the e-invoice attachment) before it is written. pdfmake ships no types for these
 * modules; the interfaces below are the parts Saldo uses.
 */
export interface PdfKitDocument extends Readable {
  appendXML(xml: string, newline?: boolean): void;
  file(src: Buffer, options: { name: string; type: string; relationship: string; description?: string; creationDate?: Date; modifiedDate?: Date }): unknown;
  end(): void;
}
interface VirtualFs {
  existsSync(path: string): boolean;
  writeFileSync(path: string, data: Buffer): void;
}
interface Printer {
  createPdfKitDocument(docDefinition: Record<string, unknown>, options?: Record<string, unknown>): Promise<PdfKitDocument>;
}
type PrinterClass = new (
  fonts: Record<string, Record<string, string>>,
  virtualfs: VirtualFs,
  urlResolver: unknown,
  localAccessPolicy: (path: string) => boolean,
) => Printer;

const require = createRequire(import.meta.url);
const PdfPrinter = (require('pdfmake/js/Printer.js') as { default: PrinterClass }).default;
const URLResolver = (require('pdfmake/js/URLResolver.js') as { default: new (fs: VirtualFs) => { setUrlAccessPolicy(cb: (url: string) => boolean): void } })
  .default;
const virtualfs = (require('pdfmake/js/virtual-fs.js') as { default: VirtualFs }).default;

/**
 * Parsed fonts shared by every document. pdfkit parses a TrueType file with fontkit for each new document and lays out
 * every text run afresh; for a one-page invoice that parsing was about half of the render time (and most of its
 * garbage). pdfmake asks its document for a font through `provideFont`; the wrapper below gives each document its
 * own pdfkit font object (its own subset, widths and ToUnicode map, so what is embedded is exactly what that document
 * uses) over one shared fontkit font and one shared layout cache per face. pdfmake 0.3.11 / pdfkit 0.19.1 are pinned
 * in the catalog; the render tests would fail if their internals moved.
 */
interface PdfKitFont {
  font: unknown;
  layoutCache?: Record<string, unknown>;
  constructor: new (document: unknown, font: unknown, id: string) => PdfKitFont;
}
interface PdfMakeDocument {
  getFontType(bold: boolean, italics: boolean): string;
  fontCache: Record<string, Record<string, PdfKitFont>>;
  _fontCount: number;
  _fontFamilies: Record<string, PdfKitFont>;
}
const sharedFaces = new Map<string, { make: (document: PdfMakeDocument, id: string) => PdfKitFont; layoutCache: Record<string, unknown>; uses: number }>();
/** The shared layout cache holds one entry per distinct word; it is started afresh when it grows past this. */
const LAYOUT_CACHE_LIMIT = 20_000;
const PdfMakeDocumentClass = (
  require('pdfmake/js/PDFDocument.js') as {
    default: { prototype: { provideFont(this: PdfMakeDocument, family: string, bold: boolean, italics: boolean): PdfKitFont } };
  }
).default;
const provideFontUnshared = PdfMakeDocumentClass.prototype.provideFont;
PdfMakeDocumentClass.prototype.provideFont = function provideFont(this: PdfMakeDocument, family: string, bold: boolean, italics: boolean): PdfKitFont {
  const type = this.getFontType(bold, italics);
  const known = this.fontCache[family]?.[type];
  if (known) return known;
  const face = `${family}/${type}`;
  const shared = sharedFaces.get(face);
  if (!shared) {
    const font = provideFontUnshared.call(this, family, bold, italics);
    const layoutCache = font.layoutCache ?? Object.create(null);
    font.layoutCache = layoutCache;
    const Font = font.constructor;
    const parsed = font.font;
    sharedFaces.set(face, { make: (document, id) => new Font(document, parsed, id), layoutCache, uses: 0 });
    return font;
  }
  if (++shared.uses % 256 === 0 && Object.keys(shared.layoutCache).length > LAYOUT_CACHE_LIMIT) shared.layoutCache = Object.create(null);
  const font = shared.make(this, `F${++this._fontCount}`);
  font.layoutCache = shared.layoutCache;
  // Registered like pdfkit's own font(): the document embeds what is in _fontFamilies when it ends.
  this._fontFamilies[`saldo-shared/${face}`] = font;
  (this.fontCache[family] ??= {})[type] = font;
  return font;
};

/** The font family documents are set in: Roboto (Apache 2.0, shipped with pdfmake), embedded as PDF/A requires. */
export const FONT_FAMILY = 'Roboto';
const FONT_FILES = { normal: 'Roboto-Regular.ttf', bold: 'Roboto-Medium.ttf', italics: 'Roboto-Italic.ttf', bolditalics: 'Roboto-MediumItalic.ttf' } as const;

let fontsLoaded = false;
function loadFonts(): Record<string, Record<string, string>> {
  if (!fontsLoaded) {
    const dir = join(dirname(require.resolve('pdfmake/package.json')), 'fonts', 'Roboto');
    for (const file of Object.values(FONT_FILES)) virtualfs.writeFileSync(`saldo-fonts/${file}`, readFileSync(join(dir, file)));
    fontsLoaded = true;
  }
  return { [FONT_FAMILY]: Object.fromEntries(Object.entries(FONT_FILES).map(([style, file]) => [style, `saldo-fonts/${file}`])) };
}

/**
 * Registers image bytes (a logo) once under a content-addressed name, so documents refer to it without copying or
 * re-encoding it per render.
 */
export function registerImage(data: Buffer): string {
  const name = `saldo-images/${createHash('sha256').update(data).digest('hex')}`;
  if (!virtualfs.existsSync(name)) virtualfs.writeFileSync(name, data);
  return name;
}

/** Lays out a pdfmake document definition into a pdfkit document (not yet ended). Never fetches anything. */
export async function layoutPdf(docDefinition: Record<string, unknown>): Promise<PdfKitDocument> {
  const resolver = new URLResolver(virtualfs);
  resolver.setUrlAccessPolicy(() => false);
  const printer = new PdfPrinter(loadFonts(), virtualfs, resolver, () => false);
  return printer.createPdfKitDocument(docDefinition);
}

/** Ends a pdfkit document and collects its bytes. */
export function finishPdf(doc: PdfKitDocument): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    doc.end();
  });
}
