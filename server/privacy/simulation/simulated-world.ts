/**
 * The simulated hospital of the privacy-monitoring simulation: wards with
 * their care teams (day, night and float clinicians), a registered
 * population of patients (names from a realistic surname distribution:
 * a few very common surnames, a long tail of rare ones; addresses), the
 * admissions of a month (each admitted patient is assigned to the ward's
 * care team for the stay: assignment periods) and the rota (day and night
 * shifts, weekend cover, one on-call clinician per ward per night).
 * Deterministic from the seed. Pure data: never touches a database (see
 * ./ledger-writer) and never holds a real person's data.
 */
import { SeededRandom } from './seeded-random';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export interface WorldOptions {
  seed: number;
  clinicians: number;
  patients: number;
  wards: number;
  /** Beds of each ward (its census: patients admitted at once). */
  bedsPerWard: number;
  days: number;
  /** First day of the simulated month, midnight UTC (the hospital's clock is UTC here). */
  start: string;
}

/** A month as the issue describes it: 200 clinicians, 20,000 patients, 20 wards of 50 beds. */
export const FULL_MONTH: WorldOptions = { seed: 20261001, clinicians: 200, patients: 20_000, wards: 20, bedsPerWard: 50, days: 30, start: '2026-10-01T00:00:00.000Z' };
/** The test's world: small enough to build and load in a few seconds on either engine. */
export const SMALL_MONTH: WorldOptions = { seed: 13, clinicians: 24, patients: 1_500, wards: 3, bedsPerWard: 32, days: 28, start: '2026-10-01T00:00:00.000Z' };

export interface Address {
  line: string;
  city: string;
  postalCode: string;
}

export type StaffRole = 'day' | 'night' | 'float';

export interface SimClinician {
  id: string;
  given: string;
  family: string;
  displayName: string;
  ward: number;
  role: StaffRole;
  /** Distinct patients whose chart this clinician opens in an ordinary shift. */
  baseline: number;
  /** The laptop; some clinicians also use a ward workstation (second device). */
  devices: string[];
  /** Whose laptop loses the network now and then (offline stretches). */
  flakyNetwork: boolean;
  home: Address;
}

export type PatientFlag = 'vip' | 'staff';

export interface SimPatient {
  id: string;
  given: string;
  family: string;
  gender: 'male' | 'female';
  birthDate: string;
  address: Address;
  flags: PatientFlag[];
}

export interface Admission {
  patientId: string;
  ward: number;
  from: number;
  /** Null: still admitted at the end of the month. */
  until: number | null;
  /** Placed by a scenario: ordinary traffic never touches this stay. */
  scenario?: boolean;
}

export interface AssignmentPeriod {
  clinicianId: string;
  patientId: string;
  from: number;
  until: number | null;
}

export type ShiftKind = 'day' | 'night' | 'on-call';

export interface Shift {
  clinicianId: string;
  ward: number;
  kind: ShiftKind;
  from: number;
  until: number;
}

export interface World {
  options: WorldOptions;
  start: number;
  end: number;
  clinicians: SimClinician[];
  patients: SimPatient[];
  /** Patients kept out of the ordinary admissions (relatives, VIPs, staff as patients): the scenarios place them. */
  reserved: SimPatient[];
  admissions: Admission[];
  periods: AssignmentPeriod[];
  shifts: Shift[];
  /** Surnames held by at least COMMON_SURNAME_SHARE of the population. */
  commonSurnames: ReadonlySet<string>;
}

/** A surname held by this share of the registered patients (or more) is common: a shared one says nothing. */
export const COMMON_SURNAME_SHARE = 0.005;

// Roughly the most frequent surnames of England and Wales with their relative weights (ONS-style shape).
const COMMON_SURNAMES: Array<[string, number]> = [
  ['Smith', 126], ['Jones', 95], ['Williams', 67], ['Taylor', 57], ['Brown', 56], ['Davies', 54], ['Evans', 42], ['Wilson', 40],
  ['Thomas', 38], ['Johnson', 37], ['Roberts', 36], ['Robinson', 31], ['Thompson', 31], ['Wright', 30], ['Walker', 30], ['White', 28],
  ['Edwards', 28], ['Hughes', 27], ['Green', 26], ['Hall', 26],
];
const RARE_HEADS = ['Ald', 'Brack', 'Carr', 'Dun', 'Elm', 'Fair', 'Garn', 'Hark', 'Ing', 'Kell', 'Lang', 'Marl', 'Nor', 'Oak', 'Pen', 'Rad', 'Sel', 'Thorn', 'Ux', 'Wend'];
const RARE_TAILS = ['bury', 'combe', 'dale', 'field', 'ford', 'gate', 'ham', 'hurst', 'ley', 'more', 'stead', 'thwaite', 'ton', 'well', 'wick', 'worth'];
// Clinicians' rare surnames come from other stems, so a patient shares one only when a scenario says so.
const CLINICIAN_HEADS = ['Quill', 'Vance', 'Yarr', 'Zell', 'Jax', 'Kestr', 'Lorr', 'Mirr'];
const CLINICIAN_TAILS = ['am', 'ane', 'ell', 'ence', 'ick', 'ine', 'on', 'ott'];
const GIVEN_F = ['Olivia', 'Amelia', 'Isla', 'Ava', 'Mia', 'Grace', 'Freya', 'Lily', 'Emily', 'Ella', 'Rose', 'Ada', 'Ruth', 'Joan', 'Mary', 'Susan'];
const GIVEN_M = ['Oliver', 'George', 'Noah', 'Arthur', 'Leo', 'Harry', 'Jack', 'Oscar', 'Henry', 'Alfie', 'John', 'Peter', 'David', 'Brian', 'Keith', 'Alan'];
const STREETS = ['Mill', 'Church', 'Station', 'Park', 'Victoria', 'Green', 'Manor', 'Kings', 'Queens', 'Grange', 'Orchard', 'Chapel', 'Bridge', 'Meadow', 'Forest', 'Highfield'];
const STREET_KINDS = ['Road', 'Lane', 'Street', 'Close', 'Avenue'];
const CITIES = ['Leeds', 'Bradford', 'Wakefield', 'Halifax', 'Huddersfield', 'Harrogate'];

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function address(rnd: SeededRandom, houseFrom: number, houseTo: number): Address {
  const city = rnd.int(0, CITIES.length - 1);
  return {
    line: `${rnd.int(houseFrom, houseTo)} ${rnd.pick(STREETS)} ${rnd.pick(STREET_KINDS)}`,
    city: CITIES[city]!,
    postalCode: `LS${city + 1}${rnd.int(0, 9)} ${rnd.int(1, 9)}${String.fromCharCode(65 + rnd.int(0, 25))}${String.fromCharCode(65 + rnd.int(0, 25))}`,
  };
}

function patientSurname(rnd: SeededRandom): string {
  // About a quarter of people carry one of the common surnames.
  if (rnd.chance(0.25)) return COMMON_SURNAMES[rnd.weighted(COMMON_SURNAMES.map(([, w]) => w))]![0];
  return `${rnd.pick(RARE_HEADS)}${rnd.pick(['', 'en', 'er', 'ing'])}${rnd.pick(RARE_TAILS)}`;
}

function newPatient(rnd: SeededRandom, id: string, family: string, home: Address | null, flags: PatientFlag[] = []): SimPatient {
  const gender = rnd.chance(0.5) ? 'female' : 'male';
  const birth = new Date(Date.UTC(rnd.int(1930, 2020), rnd.int(0, 11), rnd.int(1, 28)));
  return {
    id,
    given: rnd.pick(gender === 'female' ? GIVEN_F : GIVEN_M),
    family,
    gender,
    birthDate: birth.toISOString().slice(0, 10),
    // Patients live at house numbers 1-199; clinicians at 200-399: an address is shared only where a scenario says so.
    address: home ?? address(rnd, 1, 199),
    flags,
  };
}

export function buildWorld(options: WorldOptions): World {
  const root = new SeededRandom(options.seed);
  const start = Date.parse(options.start);
  const end = start + options.days * DAY;

  const rc = root.fork('clinicians');
  const perWard = Math.floor(options.clinicians / options.wards);
  const clinicians: SimClinician[] = [];
  for (let i = 0; i < options.clinicians; i++) {
    const ward = Math.min(options.wards - 1, Math.floor(i / perWard));
    const slot = i - ward * perWard;
    // Of every ten: six day staff, three night staff, one float (weekday days).
    const slotOf10 = Math.floor((slot * 10) / perWard);
    const role: StaffRole = slotOf10 < 6 ? 'day' : slotOf10 < 9 ? 'night' : 'float';
    const gender = rc.chance(0.5);
    const family = rc.chance(0.3) ? COMMON_SURNAMES[rc.int(0, COMMON_SURNAMES.length - 1)]![0] : `${rc.pick(CLINICIAN_HEADS)}${rc.pick(CLINICIAN_TAILS)}${rc.pick(['', 'e', 's', 'er'])}`;
    const given = rc.pick(gender ? GIVEN_F : GIVEN_M);
    const id = `sim-c${pad(i + 1, 3)}`;
    const devices = [`${id}-laptop`];
    if (rc.chance(0.2)) devices.push(`${id}-ward`);
    clinicians.push({
      id,
      given,
      family,
      displayName: `Dr ${given} ${family}`,
      ward,
      role,
      baseline: Math.round(rc.normal(role === 'night' ? 7 : 9, 1.5)),
      devices,
      flakyNetwork: rc.chance(0.15),
      home: address(rc, 200, 399),
    });
  }
  for (const c of clinicians) c.baseline = Math.max(5, Math.min(13, c.baseline));

  const rp = root.fork('patients');
  const patients: SimPatient[] = [];
  for (let i = 0; i < options.patients; i++) patients.push(newPatient(rp, `sim-p${pad(i + 1, 5)}`, patientSurname(rp), null));
  const counts = new Map<string, number>();
  for (const p of patients) counts.set(p.family, (counts.get(p.family) ?? 0) + 1);
  const commonSurnames = new Set([...counts].filter(([, n]) => n >= COMMON_SURNAME_SHARE * patients.length).map(([s]) => s));
  // A clinician given a 'common' surname that this population holds rarely would share a rare one by chance: make it common here.
  for (const c of clinicians) {
    if (COMMON_SURNAMES.some(([name]) => name === c.family) && !commonSurnames.has(c.family)) {
      c.family = 'Smith';
      c.displayName = `Dr ${c.given} ${c.family}`;
    }
  }

  // The last patients of the register are kept for the scenarios (relatives, VIPs, staff); never admitted by chance.
  const reservedCount = Math.min(Math.floor(options.patients / 10), 400);
  const reserved = patients.slice(patients.length - reservedCount);
  const pool = patients.slice(0, patients.length - reservedCount);

  const ra = root.fork('admissions');
  const admissions: Admission[] = [];
  let next = 0;
  const admit = (ward: number, from: number): number => {
    const patient = pool[next++ % pool.length]!;
    const stay = Math.max(DAY, Math.round(-Math.log(1 - ra.next()) * 5 * DAY));
    const until = from + stay;
    admissions.push({ patientId: patient.id, ward, from, until: until >= end ? null : until });
    return until;
  };
  for (let w = 0; w < options.wards; w++) {
    for (let bed = 0; bed < options.bedsPerWard; bed++) {
      // Occupied at the start of the month since up to ten days; a discharge frees the bed for the next admission.
      let freeAt = admit(w, start - ra.int(1, 10 * 24) * HOUR - ra.int(0, 59) * MINUTE);
      while (freeAt < end - 6 * HOUR) freeAt = admit(w, freeAt + ra.int(1, 12) * HOUR + ra.int(0, 59) * MINUTE);
    }
  }

  const periods: AssignmentPeriod[] = [];
  const team = (w: number) => clinicians.filter((c) => c.ward === w);
  for (const a of admissions) for (const c of team(a.ward)) periods.push({ clinicianId: c.id, patientId: a.patientId, from: a.from, until: a.until });

  const shifts: Shift[] = [];
  for (let w = 0; w < options.wards; w++) {
    const members = team(w);
    const dayStaff = members.filter((c) => c.role === 'day');
    const nightStaff = members.filter((c) => c.role === 'night');
    const floats = members.filter((c) => c.role === 'float');
    for (let d = 0; d < options.days; d++) {
      const midnight = start + d * DAY;
      const weekday = new Date(midnight).getUTCDay();
      const weekend = weekday === 0 || weekday === 6;
      const onDay = dayStaff.filter((_, i) => (d + i) % dayStaff.length < (weekend ? Math.ceil(dayStaff.length / 3) : Math.ceil((dayStaff.length * 2) / 3)));
      if (!weekend) onDay.push(...floats);
      for (const c of onDay) shifts.push({ clinicianId: c.id, ward: w, kind: 'day', from: midnight + 7 * HOUR, until: midnight + 19 * HOUR });
      nightStaff
        .filter((_, i) => (d + i) % nightStaff.length < Math.ceil((nightStaff.length * 2) / 3))
        .forEach((c) => shifts.push({ clinicianId: c.id, ward: w, kind: 'night', from: midnight + 19 * HOUR, until: midnight + 31 * HOUR }));
      // One day clinician on call from home each night, not one working the next day shift's start.
      const working = new Set(onDay.map((c) => c.id));
      const candidates = dayStaff.filter((c) => !working.has(c.id));
      const onCall = (candidates.length > 0 ? candidates : dayStaff)[d % Math.max(1, (candidates.length > 0 ? candidates : dayStaff).length)];
      if (onCall) shifts.push({ clinicianId: onCall.id, ward: w, kind: 'on-call', from: midnight + 19 * HOUR, until: midnight + 31 * HOUR });
    }
  }
  // The month ends at midnight: a night shift running past it belongs to the next month.
  const inMonth = shifts.filter((s) => s.until <= end);
  inMonth.sort((a, b) => a.from - b.from || a.clinicianId.localeCompare(b.clinicianId));
  return { options, start, end, clinicians, patients, reserved, admissions, periods, shifts: inMonth, commonSurnames };
}

/** Makes a reserved patient into a scenario's patient (a relative, a VIP, a colleague as patient). */
export function dressReserved(world: World, rnd: SeededRandom, how: { family?: string; address?: Address; flags?: PatientFlag[] }): SimPatient {
  const p = world.reserved.pop();
  if (!p) throw new Error('the world has no reserved patient left for a scenario');
  const dressed = newPatient(rnd, p.id, how.family ?? p.family, how.address ?? null, how.flags ?? []);
  Object.assign(p, dressed);
  return p;
}

/** Admits a reserved patient to a ward for [from, until): the ward's care team is assigned for the stay. */
export function admitToWard(world: World, patientId: string, ward: number, from: number, until: number | null): void {
  world.admissions.push({ patientId, ward, from, until, scenario: true });
  for (const c of world.clinicians) if (c.ward === ward) world.periods.push({ clinicianId: c.id, patientId, from, until });
}
