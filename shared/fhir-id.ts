/**
 * The FHIR id grammar ([A-Za-z0-9-.]{1,64}), used wherever an id crosses a
 * boundary. Must never accept anything that could be a path or a query.
 */
import { z } from 'zod';

export const FHIR_ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export const fhirIdSchema = z.string().regex(FHIR_ID_PATTERN, 'not a FHIR id');
