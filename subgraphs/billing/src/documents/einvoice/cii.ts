import { exemptionReason, microsToDecimal, minorToDecimal } from '../i18n.js';
import { DocumentKind, type DocumentContent, type PostalAddress } from '../model.js';
import { formatRatePercent } from './format.js';

/** EN 16931 specification identifier (BT-24) of the CII profile "EN16931" (ZUGFeRD/Factur-X COMFORT). */
export const EN16931_GUIDELINE = 'urn:cen.eu:en16931:2017';
/** XRechnung 3.0 CIUS, used when the buyer gave a Leitweg-ID (BT-10). */
export const XRECHNUNG_GUIDELINE = 'urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0';
/** Business process (BT-23) XRechnung asks for. */
const BILLING_PROCESS = 'urn:fdc:peppol.eu:2017:poacc:billing:01:1.0';

const NS =
  'xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" ' +
  'xmlns:qdt="urn:un:unece:uncefact:data:standard:QualifiedDataType:100" ' +
  'xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" ' +
  'xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"';

export function escapeXml(value: string): string {
  return value.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** `<ram:Name>value</ram:Name>`, or nothing for an absent value. */
function el(name: string, value: string | null | undefined, attributes = ''): string {
  if (value === null || value === undefined || value === '') return '';
  return `<${name}${attributes}>${escapeXml(value)}</${name}>`;
}

const day102 = (day: string) => day.replaceAll('-', '');
const udtDate = (day: string) => `<udt:DateTimeString format="102">${day102(day)}</udt:DateTimeString>`;

function address(value: PostalAddress | null, country: string): string {
  if (!value) return `<ram:PostalTradeAddress><ram:CountryID>${escapeXml(country)}</ram:CountryID></ram:PostalTradeAddress>`;
  return (
    '<ram:PostalTradeAddress>' +
    el('ram:PostcodeCode', value.postalCode) +
    el('ram:LineOne', value.line1) +
    el('ram:LineTwo', value.line2) +
    el('ram:CityName', value.city) +
    el('ram:CountryID', value.country) +
    '</ram:PostalTradeAddress>'
  );
}

/** True when the document is an XRechnung: the buyer gave a buyer reference (Leitweg-ID). */
export function isXRechnung(document: DocumentContent): boolean {
  return Boolean(document.customer.buyerReference);
}

/**
 * The document's UN/CEFACT Cross Industry Invoice (D16B) in the EN 16931 profile: invoice (TypeCode 380) or credit
 * note (381, with the corrected invoice as BG-3). With a buyer reference it follows the XRechnung 3.0 CIUS too (its
 * specification identifier, buyer reference, seller contact, electronic addresses, payment instructions).
 * Statements are not invoices and have no e-invoice.
 */
export function renderCii(document: DocumentContent): string {
  const { issuer, customer, currency, vat } = document;
  if (document.kind === DocumentKind.STATEMENT || !vat) throw new Error('statements are not invoices: they have no EN 16931 e-invoice');
  const amount = (minor: bigint) => minorToDecimal(minor, currency);
  const xrechnung = isXRechnung(document);
  // BR-O-02: a supply not subject to VAT names neither side's VAT id; the seller is identified by tax number and register.
  const showVatIds = vat.category !== 'O';
  const isCreditNote = document.kind === DocumentKind.CREDIT_NOTE;
  const lineTax = (category: string, basisPoints: number) =>
    `<ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>${category}</ram:CategoryCode>` +
    (category === 'O' ? '' : `<ram:RateApplicablePercent>${formatRatePercent(basisPoints)}</ram:RateApplicablePercent>`) +
    '</ram:ApplicableTradeTax>';

  const lines = document.lines
    .map(
      (line) =>
        '<ram:IncludedSupplyChainTradeLineItem>' +
        `<ram:AssociatedDocumentLineDocument><ram:LineID>${line.position}</ram:LineID></ram:AssociatedDocumentLineDocument>` +
        `<ram:SpecifiedTradeProduct>${el('ram:Name', line.description[document.language])}</ram:SpecifiedTradeProduct>` +
        `<ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice><ram:ChargeAmount>${microsToDecimal(line.unitPriceMicros, currency)}</ram:ChargeAmount></ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement>` +
        `<ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="${escapeXml(line.unitCode)}">${line.quantity}</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery>` +
        '<ram:SpecifiedLineTradeSettlement>' +
        lineTax(line.category, line.basisPoints) +
        `<ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>${amount(line.netMinor)}</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLineMonetarySummation>` +
        '</ram:SpecifiedLineTradeSettlement>' +
        '</ram:IncludedSupplyChainTradeLineItem>',
    )
    .join('');

  const seller =
    '<ram:SellerTradeParty>' +
    el('ram:Name', issuer.legalName) +
    (issuer.registration ? `<ram:SpecifiedLegalOrganization>${el('ram:ID', issuer.registration)}</ram:SpecifiedLegalOrganization>` : '') +
    '<ram:DefinedTradeContact>' +
    el('ram:PersonName', issuer.contactName) +
    `<ram:TelephoneUniversalCommunication>${el('ram:CompleteNumber', issuer.phone)}</ram:TelephoneUniversalCommunication>` +
    `<ram:EmailURIUniversalCommunication>${el('ram:URIID', issuer.email)}</ram:EmailURIUniversalCommunication>` +
    '</ram:DefinedTradeContact>' +
    address(issuer.address, issuer.address.country) +
    `<ram:URIUniversalCommunication>${el('ram:URIID', issuer.email, ' schemeID="EM"')}</ram:URIUniversalCommunication>` +
    (showVatIds && issuer.vatId ? `<ram:SpecifiedTaxRegistration>${el('ram:ID', issuer.vatId, ' schemeID="VA"')}</ram:SpecifiedTaxRegistration>` : '') +
    (issuer.taxNumber ? `<ram:SpecifiedTaxRegistration>${el('ram:ID', issuer.taxNumber, ' schemeID="FC"')}</ram:SpecifiedTaxRegistration>` : '') +
    '</ram:SellerTradeParty>';

  // BT-49: a Leitweg-ID is itself the buyer's electronic address (EAS 0204); otherwise the buyer's e-mail, if known.
  const buyerAddress = customer.buyerReference
    ? el('ram:URIID', customer.buyerReference, ' schemeID="0204"')
    : customer.email
      ? el('ram:URIID', customer.email, ' schemeID="EM"')
      : '';
  const buyer =
    '<ram:BuyerTradeParty>' +
    el('ram:ID', customer.tenantId) +
    el('ram:Name', customer.name) +
    address(customer.address, customer.country) +
    (buyerAddress ? `<ram:URIUniversalCommunication>${buyerAddress}</ram:URIUniversalCommunication>` : '') +
    (showVatIds && customer.vatId ? `<ram:SpecifiedTaxRegistration>${el('ram:ID', customer.vatId, ' schemeID="VA"')}</ram:SpecifiedTaxRegistration>` : '') +
    '</ram:BuyerTradeParty>';

  const reason = exemptionReason(vat.case);
  const taxes = document.breakdown
    .map(
      (row) =>
        '<ram:ApplicableTradeTax>' +
        `<ram:CalculatedAmount>${amount(row.vatMinor)}</ram:CalculatedAmount>` +
        '<ram:TypeCode>VAT</ram:TypeCode>' +
        (row.category === 'S' ? '' : el('ram:ExemptionReason', reason)) +
        `<ram:BasisAmount>${amount(row.netMinor)}</ram:BasisAmount>` +
        `<ram:CategoryCode>${row.category}</ram:CategoryCode>` +
        (row.category === 'S' ? '' : el('ram:ExemptionReasonCode', vat.exemptionReasonCode)) +
        // BT-8: VAT becomes due when the payment is received (prepayment, § 13 Abs. 1 Nr. 1a Satz 4 UStG).
        (row.category === 'S' ? '<ram:DueDateTypeCode>72</ram:DueDateTypeCode>' : '') +
        (row.category === 'O' ? '' : `<ram:RateApplicablePercent>${formatRatePercent(row.basisPoints)}</ram:RateApplicablePercent>`) +
        '</ram:ApplicableTradeTax>',
    )
    .join('');

  const settlement = document.settlement;
  const paymentMeans =
    settlement.kind === 'ONLINE_PAYMENT' || settlement.kind === 'REFUND'
      ? // UNTDID 4461 68: online payment service (Stripe).
        `<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>68</ram:TypeCode>${el('ram:Information', settlement.reference ? `Stripe ${settlement.reference}` : 'Stripe')}</ram:SpecifiedTradeSettlementPaymentMeans>`
      : `<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>58</ram:TypeCode>${el('ram:Information', 'SEPA credit transfer')}<ram:PayeePartyCreditorFinancialAccount>${el('ram:IBANID', issuer.bank.iban)}${el('ram:AccountName', issuer.bank.accountHolder)}</ram:PayeePartyCreditorFinancialAccount>${issuer.bank.bic ? `<ram:PayeeSpecifiedCreditorFinancialInstitution>${el('ram:BICID', issuer.bank.bic)}</ram:PayeeSpecifiedCreditorFinancialInstitution>` : ''}</ram:SpecifiedTradeSettlementPaymentMeans>`;
  const due = document.totals.grossMinor - document.prepaidMinor + document.roundingMinor;
  const terms = paymentTerms(document);

  const notes = [document.reason ? `${isCreditNote ? 'Grund / Reason' : 'Note'}: ${document.reason}` : null, vatNoteFor(document)]
    .filter((note): note is string => Boolean(note))
    .map((note) => `<ram:IncludedNote>${el('ram:Content', note)}</ram:IncludedNote>`)
    .join('');

  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<rsm:CrossIndustryInvoice ${NS}>` +
    '<rsm:ExchangedDocumentContext>' +
    (xrechnung
      ? `<ram:BusinessProcessSpecifiedDocumentContextParameter><ram:ID>${BILLING_PROCESS}</ram:ID></ram:BusinessProcessSpecifiedDocumentContextParameter>`
      : '') +
    `<ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>${xrechnung ? XRECHNUNG_GUIDELINE : EN16931_GUIDELINE}</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter>` +
    '</rsm:ExchangedDocumentContext>' +
    '<rsm:ExchangedDocument>' +
    el('ram:ID', document.number) +
    `<ram:TypeCode>${isCreditNote ? '381' : '380'}</ram:TypeCode>` +
    `<ram:IssueDateTime>${udtDate(document.issueDate)}</ram:IssueDateTime>` +
    notes +
    '</rsm:ExchangedDocument>' +
    '<rsm:SupplyChainTradeTransaction>' +
    lines +
    '<ram:ApplicableHeaderTradeAgreement>' +
    el('ram:BuyerReference', customer.buyerReference) +
    seller +
    buyer +
    '</ram:ApplicableHeaderTradeAgreement>' +
    '<ram:ApplicableHeaderTradeDelivery>' +
    `<ram:ActualDeliverySupplyChainEvent><ram:OccurrenceDateTime>${udtDate(document.servicePeriod.to)}</ram:OccurrenceDateTime></ram:ActualDeliverySupplyChainEvent>` +
    '</ram:ApplicableHeaderTradeDelivery>' +
    '<ram:ApplicableHeaderTradeSettlement>' +
    el('ram:PaymentReference', document.number) +
    `<ram:InvoiceCurrencyCode>${currency}</ram:InvoiceCurrencyCode>` +
    paymentMeans +
    taxes +
    `<ram:BillingSpecifiedPeriod><ram:StartDateTime>${udtDate(document.servicePeriod.from)}</ram:StartDateTime><ram:EndDateTime>${udtDate(document.servicePeriod.to)}</ram:EndDateTime></ram:BillingSpecifiedPeriod>` +
    (terms ? `<ram:SpecifiedTradePaymentTerms>${el('ram:Description', terms)}</ram:SpecifiedTradePaymentTerms>` : '') +
    '<ram:SpecifiedTradeSettlementHeaderMonetarySummation>' +
    `<ram:LineTotalAmount>${amount(document.totals.netMinor)}</ram:LineTotalAmount>` +
    `<ram:TaxBasisTotalAmount>${amount(document.totals.netMinor)}</ram:TaxBasisTotalAmount>` +
    `<ram:TaxTotalAmount currencyID="${currency}">${amount(document.totals.vatMinor)}</ram:TaxTotalAmount>` +
    (document.roundingMinor !== 0n ? `<ram:RoundingAmount>${amount(document.roundingMinor)}</ram:RoundingAmount>` : '') +
    `<ram:GrandTotalAmount>${amount(document.totals.grossMinor)}</ram:GrandTotalAmount>` +
    `<ram:TotalPrepaidAmount>${amount(document.prepaidMinor)}</ram:TotalPrepaidAmount>` +
    `<ram:DuePayableAmount>${amount(due)}</ram:DuePayableAmount>` +
    '</ram:SpecifiedTradeSettlementHeaderMonetarySummation>' +
    (document.corrects
      ? `<ram:InvoiceReferencedDocument>${el('ram:IssuerAssignedID', document.corrects.number)}<ram:FormattedIssueDateTime><qdt:DateTimeString format="102">${day102(document.corrects.issueDate)}</qdt:DateTimeString></ram:FormattedIssueDateTime></ram:InvoiceReferencedDocument>`
      : '') +
    '</ram:ApplicableHeaderTradeSettlement>' +
    '</rsm:SupplyChainTradeTransaction>' +
    '</rsm:CrossIndustryInvoice>\n'
  );
}

function vatNoteFor(document: DocumentContent): string | null {
  if (document.vat?.case === 'REVERSE_CHARGE') return 'Steuerschuldnerschaft des Leistungsempfängers / Reverse charge';
  if (document.vat?.case === 'NON_EU')
    return 'Nicht im Inland steuerbare Leistung / Not subject to VAT in the country of the seller (place of supply outside the EU)';
  return null;
}

function paymentTerms(document: DocumentContent): string | null {
  const { settlement } = document;
  const at = settlement.at ? ` ${settlement.at}` : '';
  switch (settlement.kind) {
    case 'ONLINE_PAYMENT':
      return `Paid in advance via Stripe${at}${settlement.reference ? ` (${settlement.reference})` : ''}. Nothing is due.`;
    case 'REFUND':
      return `Refunded to the original payment method${at}${settlement.reference ? ` (${settlement.reference})` : ''}. Nothing is due.`;
    case 'BALANCE_CREDIT':
      return `Credited to the prepaid balance${at}. Nothing is due.`;
    case 'NONE':
      return null;
  }
}
