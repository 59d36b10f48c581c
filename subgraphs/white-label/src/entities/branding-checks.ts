/**
 * Database check constraints of both branding tables: a second line of defence behind input validation,
 * declared on the entities and written by the migrations with the same names and expressions, so the
 * schema-drift check sees no difference.
 */
const check = (column: string, expression: string) => (table: string) => ({ name: `${table}_${column}_check`, expression });

export const BRANDING_CHECKS = {
  displayName: check('display_name', '(char_length(display_name) >= 1) and (char_length(display_name) <= 100)'),
  primaryColor: check('primary_color', "primary_color ~ '^#[0-9A-F]{6}$'"),
  accentColor: check('accent_color', "accent_color ~ '^#[0-9A-F]{6}$'"),
  logoUrl: check('logo_url', 'char_length(logo_url) <= 2048'),
  supportEmail: check('support_email', 'char_length(support_email) <= 254'),
} as const;
