import type { PdfKitDocument } from './engine.js';

/** The name Factur-X / ZUGFeRD 2 readers look for. */
export const FACTURX_FILENAME = 'factur-x.xml';
const FX_NS = 'urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#';

/** Factur-X conformance levels Saldo writes: EN 16931 (COMFORT), or XRECHNUNG when the XML is an XRechnung. */
export type FacturXLevel = 'EN 16931' | 'XRECHNUNG';

const property = (name: string, description: string) => `
                <rdf:li rdf:parseType="Resource">
                  <pdfaProperty:name>${name}</pdfaProperty:name>
                  <pdfaProperty:valueType>Text</pdfaProperty:valueType>
                  <pdfaProperty:category>external</pdfaProperty:category>
                  <pdfaProperty:description>${description}</pdfaProperty:description>
                </rdf:li>`;

/**
 * The XMP that makes a PDF/A-3 a Factur-X/ZUGFeRD hybrid: the fx: properties naming the attachment and profile, and
 * the PDF/A extension schema that declares them (PDF/A allows only declared XMP properties).
 */
export function facturXMetadata(level: FacturXLevel): string {
  return `
        <rdf:Description rdf:about="" xmlns:fx="${FX_NS}">
          <fx:DocumentType>INVOICE</fx:DocumentType>
          <fx:DocumentFileName>${FACTURX_FILENAME}</fx:DocumentFileName>
          <fx:Version>1.0</fx:Version>
          <fx:ConformanceLevel>${level}</fx:ConformanceLevel>
        </rdf:Description>
        <rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/" xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
          <pdfaExtension:schemas>
            <rdf:Bag>
              <rdf:li rdf:parseType="Resource">
                <pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>
                <pdfaSchema:namespaceURI>${FX_NS}</pdfaSchema:namespaceURI>
                <pdfaSchema:prefix>fx</pdfaSchema:prefix>
                <pdfaSchema:property>
                  <rdf:Seq>${property('DocumentFileName', 'The name of the embedded XML document')}${property('DocumentType', 'The type of the hybrid document in capital letters, e.g. INVOICE or ORDER')}${property('Version', 'The actual version of the standard applying to the embedded XML document')}${property('ConformanceLevel', 'The conformance level of the embedded XML document')}
                  </rdf:Seq>
                </pdfaSchema:property>
              </rdf:li>
            </rdf:Bag>
          </pdfaExtension:schemas>
        </rdf:Description>`;
}

/**
 * Embeds the CII XML as the document's associated file (`/AF`, AFRelationship Alternative: the XML is an equivalent
 * representation of the invoice) and declares it in the XMP. pdfkit writes the PDF/A-3 part (pdfaid), the sRGB
 * output intent and the EmbeddedFiles name tree; all fonts are embedded TrueType subsets.
 */
export function attachFacturX(doc: PdfKitDocument, xml: string, level: FacturXLevel, issuedAt: Date): void {
  doc.file(Buffer.from(xml, 'utf8'), {
    name: FACTURX_FILENAME,
    type: 'text/xml',
    relationship: 'Alternative',
    description: 'Factur-X/ZUGFeRD invoice data (EN 16931)',
    creationDate: issuedAt,
    modifiedDate: issuedAt,
  });
  doc.appendXML(facturXMetadata(level));
}
