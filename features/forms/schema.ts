/**
 * C4: a shared form is data, not a component. A self-hoster adds one to the catalog
 * (`JOINUS_FORMS_FILE`, README "Shared forms") with fields, labels, types, who may type each field,
 * and which fields are masked for everyone else; the view renders any valid definition.
 */
import * as z from '../../lib/zod';
import { roleSchema } from '../participants/doc';

export const fieldTypes = ['text', 'email', 'tel', 'number', 'textarea', 'card-number', 'expiry'] as const;
export type FieldType = (typeof fieldTypes)[number];

export const fieldSchema = z
  .object({
    /** Stable key of the value (the result's property name). */
    id: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'field ids are 1–32 lower-case letters, digits, _ or -, starting with a letter'),
    /** What the field is called on screen, in the transcript and in the result: its accessible name. */
    label: z.string().trim().min(1).max(60),
    type: z.enum(fieldTypes).default('text'),
    required: z.boolean().default(false),
    /** Characters at most (the typist's browser enforces it). */
    maxLength: z.number().int().min(1).max(2000).default(200),
    /** Roles that may type in the field; everyone else sees it read-only. */
    editableBy: z.array(roleSchema).min(1).default(['agent', 'customer']),
    /**
     * Masked for every role that may not type it: the typist's browser keeps the clear value and
     * writes only the masked form to the shared document. `showLast`: characters shown at the end
     * once the value is complete (a card number: its last four digits).
     */
    masked: z.object({ showLast: z.number().int().min(0).max(4).default(0) }).optional(),
    hint: z.string().max(200).optional(),
  })
  .refine((f) => !f.masked || f.editableBy.length === 1, {
    message: 'a masked field is typed by exactly one role (its clear value stays in that browser)',
  });
export type FieldDefinition = z.infer<typeof fieldSchema>;

export const formSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9_-]{0,47}$/),
    /** The name in combobox "Form" and in the transcript. */
    title: z.string().trim().min(1).max(60),
    description: z.string().max(300).optional(),
    fields: z.array(fieldSchema).min(1).max(30),
    /**
     * The operator's own endpoint for the result. When set, the customer's browser (which holds every
     * clear value) posts the complete result there as JSON when the agent submits; nobody else does.
     */
    submitTo: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), 'submitTo must be an http(s) address')
      .optional(),
  })
  .refine((f) => new Set(f.fields.map((x) => x.id)).size === f.fields.length, { message: 'field ids must be unique' });
export type FormDefinition = z.infer<typeof formSchema>;

export const catalogSchema = z
  .array(formSchema)
  .max(100)
  .refine((forms) => new Set(forms.map((f) => f.id)).size === forms.length, { message: 'form ids must be unique' });

/** The built-in catalog with the operator's forms over it (same id: the operator's wins). */
export function mergeCatalog(builtIn: FormDefinition[], extra: FormDefinition[]): FormDefinition[] {
  const byId = new Map(builtIn.map((f) => [f.id, f]));
  for (const f of extra) byId.set(f.id, f);
  return [...byId.values()];
}

/** Who writes the clear result to `submitTo`: the customer, who types the masked fields. */
export const resultPoster = 'customer' as const;
