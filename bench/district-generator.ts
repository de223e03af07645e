/**
 * Seeded synthetic school district → OneRoster 1.1 (or 1.2) bulk CSV set, for the benchmark and tests.
 *
 * Everything is a pure function of (students, schools, seed, version): every record is drawn from its
 * own PRNG stream keyed by (seed, kind, index), so a record can be regenerated on its own (day two reuses
 * this) and sourcedIds are stable. Files are streamed to disk in ~1 MB chunks with backpressure; nothing
 * holds a whole file in memory. Column headers come from the engine's OneRoster spec
 * (nodes/shared/sources/oneroster-csv/spec.ts); besides that it imports nothing from the project, and
 * `bench/generate.mjs` transpiles it together with the project files it imports.
 *
 * Shape: one district org + K schools (elementary PK–05, middle 06–08, high 09–12; one school → PK–12,
 * two → PK–08 + 09–12); a school year with two semesters; courses per school per subject/grade; class
 * sections of ~18–27 (elementary students travel as a homeroom group: homeroom + specials; secondary
 * students have 6–7 classes); teachers ≈ students/16 with ~10 % co-taught classes; principals, assistant
 * principals, counselors, aides, proctors and district administrators; families (≈8 % of students are a
 * sibling of an earlier student and share that family's guardians) with 1–3 guardians each, ≈1.5 guardian
 * users per student; demographics for students.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OneRosterVersion, StagedEntity } from '../nodes/shared/model/roster';
import { MANIFEST_COLUMNS, STAGED_FILES } from '../nodes/shared/sources/oneroster-csv/spec';

// ───────────────────────────── public API ─────────────────────────────

export interface DistrictOptions {
	students: number;
	/** Default max(1, round(students / 800)). */
	schools?: number;
	/** Default 1. */
	seed?: number;
	/** Default '1.1'. */
	version?: '1.1' | '1.2';
	/**
	 * 1.2 only: include the `resourceSourcedIds` column in users.csv (between userMasterIdentifier and
	 * preferredGivenName) as in the OneRoster 1.2 CSV binding; CSV Binding 1.2.1 moved user–resource links
	 * to userResources.csv and has no such column. Default true.
	 */
	resourceSourcedIdsColumn?: boolean;
	/**
	 * People's sourcedIds as GUIDs, 36 characters (as Infinite Campus and many other SIS export them),
	 * instead of short ids like `stu-000001`. Default false.
	 */
	guidIds?: boolean;
}

export interface DistrictCounts {
	orgs: number;
	academicSessions: number;
	courses: number;
	classes: number;
	/** Rows of users.csv (people + guardians). */
	users: number;
	students: number;
	teachers: number;
	/** aide, counselor, proctor (1.1 has no counselor: counselors are written as `aide`). */
	staff: number;
	/** principal, assistant principal, district and system administrators (1.1: `administrator`). */
	admins: number;
	/** parent, guardian, relative. */
	guardians: number;
	enrollments: number;
	demographics: number;
	/** Rows of roles.csv (1.2 only; 0 for 1.1). */
	roles?: number;
}

export interface DayTwoOptions {
	/** Percent of each people group (students, teachers, staff, admins) changed. Default 1. */
	changedPercent?: number;
	/** Percent of students and of non-teaching staff gone. Default 0.5. */
	gonePercent?: number;
	/** New students, as a percent of day one's students. Default 0.5. */
	newPercent?: number;
	/**
	 * NOTE: `seed` is shared with DistrictOptions in `DistrictOptions & DayTwoOptions`: it is the district's
	 * seed and must match day one. Use `dayTwoSeed` to vary which people change.
	 */
	seed?: number;
	/** Seed for the day-two picks. Default: derived from `seed`. */
	dayTwoSeed?: number;
}

export type ChangeKind = 'familyName' | 'email' | 'grades';

export interface DayTwoResult {
	counts: DistrictCounts;
	/** People (students, teachers, staff, admins) whose users.csv row changed. */
	changed: string[];
	/** People whose users row and enrollments are removed (students and non-teaching staff). */
	gone: string[];
	/** New students (with enrollments, demographics and guardians). */
	added: string[];
	/** What changed for each id in `changed`. */
	changes: Record<string, ChangeKind>;
	/** Guardians removed because all their children are gone. */
	goneContacts: string[];
	/** Guardians of the new students. */
	addedContacts: string[];
	/** Guardians still present whose agentSourcedIds lost a gone child. */
	contactsWithGoneChild: string[];
}

/** Writes a complete bulk OneRoster CSV set for a synthetic district into `dir` (created if missing). */
export async function writeDistrict(dir: string, options: DistrictOptions): Promise<DistrictCounts> {
	const plan = buildPlan(options);
	const out = await writeAll(dir, plan, null);
	return out.counts;
}

/**
 * Writes a "next day" version of the district at `dir` into `outDir`: some people changed (renamed, email
 * or grade changed), some gone (their user rows and enrollments removed), some new students (with
 * enrollments). The district is regenerated from `options` (which must be the ones `dir` was written
 * with — checked against dir/orgs.csv; if `dir` has no manifest.csv the district is written there first).
 * Unchanged records keep their sourcedIds and their exact rows.
 */
export async function writeDayTwo(
	dir: string,
	outDir: string,
	options: DistrictOptions & DayTwoOptions,
): Promise<DayTwoResult> {
	const plan = buildPlan(options);
	if (!fs.existsSync(path.join(dir, 'manifest.csv'))) {
		await writeAll(dir, plan, null);
	} else {
		const expected = orgsCsv(plan);
		let actual = '';
		try {
			actual = fs.readFileSync(path.join(dir, 'orgs.csv'), 'utf8');
		} catch {
			actual = '';
		}
		if (actual !== expected) {
			throw new Error(`writeDayTwo: the district at ${dir} was not generated with these options (orgs.csv differs)`);
		}
	}
	const mutation = buildMutation(plan, options);
	const out = await writeAll(outDir, plan, mutation);
	return {
		counts: out.counts,
		changed: [...mutation.changes.keys()],
		gone: mutation.goneIds,
		added: mutation.added.map((a) => studentId(a.index)),
		changes: Object.fromEntries(mutation.changes),
		goneContacts: out.goneContacts,
		addedContacts: out.addedContacts,
		contactsWithGoneChild: out.contactsWithGoneChild,
	};
}

/** Per file of a delta set: rows upserted (new or changed) and rows marked tobedeleted. */
export type DeltaSetCounts = Record<string, { upserts: number; deletions: number }>;

/**
 * Writes into `outDir` the OneRoster delta set that turns the bulk set at `fromDir` into the one at
 * `toDir` (both written by this generator): per file, every row of `toDir` that is new or differs
 * (status `active`) and every row of `fromDir` whose sourcedId is gone (status `tobedeleted`), each
 * stamped `dateLastModified`; manifest.csv says `delta` for each file. Rows are compared as text by
 * their sourcedId, the first cell (the generator never quotes the first three cells: checked).
 */
export function writeDeltaSet(fromDir: string, toDir: string, outDir: string, dateLastModified = '2026-11-23T00:00:00Z'): DeltaSetCounts {
	fs.mkdirSync(outDir, { recursive: true });
	const counts: DeltaSetCounts = {};
	const lead = /^([^,"]*),([^,"]*),([^,"]*),/;
	const manifest = fs.readFileSync(path.join(toDir, 'manifest.csv'), 'utf8');
	for (const [, entity] of manifest.matchAll(/^file\.(\w+),bulk$/gm)) {
		const name = `${entity}.csv`;
		const rowsOf = (dir: string) => fs.readFileSync(path.join(dir, name), 'utf8').split('\n').filter((line) => line !== '');
		const [header, ...after] = rowsOf(toDir);
		if (!header.startsWith('sourcedId,status,dateLastModified,')) throw new Error(`writeDeltaSet: ${name} does not start with sourcedId,status,dateLastModified`);
		const stamped = (row: string, status: string) => {
			if (!lead.test(row)) throw new Error(`writeDeltaSet: ${name}: a row whose first cells are quoted: ${row.slice(0, 80)}`);
			return row.replace(lead, (_match, id: string) => `${id},${status},${dateLastModified},`);
		};
		const idOf = (row: string) => row.slice(0, row.indexOf(','));
		const before = new Map(rowsOf(fromDir).slice(1).map((row) => [idOf(row), row]));
		const out = [header];
		let upserts = 0;
		for (const row of after) {
			const id = idOf(row);
			if (before.get(id) !== row) {
				out.push(stamped(row, 'active'));
				upserts++;
			}
			before.delete(id);
		}
		for (const row of before.values()) out.push(stamped(row, 'tobedeleted'));
		fs.writeFileSync(path.join(outDir, name), `${out.join('\n')}\n`);
		counts[entity] = { upserts, deletions: before.size };
	}
	fs.writeFileSync(path.join(outDir, 'manifest.csv'), manifest.replace(/^(file\.\w+),bulk$/gm, '$1,delta'));
	return counts;
}

// ───────────────────────────── PRNG ─────────────────────────────

type Rng = () => number;

/** mulberry32: small, fast, good enough for synthetic data. */
function mulberry32(seed: number): Rng {
	let a = seed | 0;
	return () => {
		a = (a + 0x6d2b79f5) | 0;
		let t = Math.imul(a ^ (a >>> 15), 1 | a);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

function fmix32(h: number): number {
	h ^= h >>> 16;
	h = Math.imul(h, 0x85ebca6b);
	h ^= h >>> 13;
	h = Math.imul(h, 0xc2b2ae35);
	h ^= h >>> 16;
	return h >>> 0;
}

function hash3(a: number, b: number, c: number): number {
	let h = fmix32((a ^ 0x9e3779b9) >>> 0);
	h = fmix32((h ^ Math.imul(b + 0x632be5ab, 0x27d4eb2f)) >>> 0);
	h = fmix32((h ^ Math.imul(c + 0x165667b1, 0x9e3779b1)) >>> 0);
	return h;
}

function hashFloat(a: number, b: number, c: number): number {
	return hash3(a, b, c) / 4294967296;
}

function rngFor(seed: number, kind: number, index: number): Rng {
	return mulberry32(hash3(seed, kind, index));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
	return items[Math.floor(rng() * items.length)];
}

// Stream kinds (never renumber: they are part of the output).
const K_DISTRICT = 1;
const K_SCHOOL = 2;
const K_STUDENT = 3;
const K_SIBLING = 4;
const K_GUARDIAN_COUNT = 5;
const K_GUARDIAN = 6;
const K_TEACHER = 7;
const K_STAFF = 8;
const K_PERM = 9;
const K_COTEACH = 10;
const K_DAY2 = 11;
const K_NEW_STUDENT = 12;
const K_MULTI_SCHOOL = 13;
const K_RENAME = 14;

// ───────────────────────────── vocabulary ─────────────────────────────

const GRADES = ['PK', 'KG', '01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12'] as const;
const GRADE_WORD = [
	'Pre-K',
	'Kindergarten',
	'Grade 1',
	'Grade 2',
	'Grade 3',
	'Grade 4',
	'Grade 5',
	'Grade 6',
	'Grade 7',
	'Grade 8',
	'Grade 9',
	'Grade 10',
	'Grade 11',
	'Grade 12',
];
/** Index into GRADES of the first middle and high school grade. */
const G06 = 7;
const G09 = 10;

const YEAR_ID = 'as-2026';
const S1_ID = 'as-2026-s1';
const S2_ID = 'as-2026-s2';
const BOTH_SEMESTERS = `"${S1_ID},${S2_ID}"`;

interface Culture {
	weight: number;
	female: readonly string[];
	male: readonly string[];
	family: readonly string[];
}

const CULTURES: readonly Culture[] = [
	{
		weight: 0.56,
		female: [
			'Emma',
			'Olivia',
			'Ava',
			'Sophia',
			'Isabella',
			'Mia',
			'Charlotte',
			'Amelia',
			'Harper',
			'Evelyn',
			'Abigail',
			'Emily',
			'Elizabeth',
			'Madison',
			'Chloe',
			'Grace',
			'Lily',
			'Hannah',
			'Zoë',
			'Avery',
			'Nora',
			'Riley',
			'Claire',
			'Natalie',
			'Leah',
			'Audrey',
			'Brooklyn',
			'Savannah',
			'Hazel',
			'Aubrey',
			'Mary-Kate',
			'Siobhan',
		],
		male: [
			'Liam',
			'Noah',
			'William',
			'James',
			'Oliver',
			'Benjamin',
			'Elijah',
			'Lucas',
			'Mason',
			'Logan',
			'Alexander',
			'Ethan',
			'Jacob',
			'Michael',
			'Daniel',
			'Henry',
			'Jackson',
			'Sebastian',
			'Aiden',
			'Matthew',
			'Samuel',
			'David',
			'Joseph',
			'Carter',
			'Owen',
			'Wyatt',
			'John',
			'Jack',
			'Luke',
			'Dylan',
			"D'Andre",
			'Jean-Luc',
		],
		family: [
			'Smith',
			'Johnson',
			'Williams',
			'Brown',
			'Jones',
			'Miller',
			'Davis',
			'Wilson',
			'Anderson',
			'Taylor',
			'Thomas',
			'Moore',
			'Martin',
			'Jackson',
			'Thompson',
			'White',
			'Harris',
			'Clark',
			'Lewis',
			'Robinson',
			'Walker',
			'Young',
			'Allen',
			'King',
			'Wright',
			'Scott',
			'Hill',
			'Green',
			'Adams',
			'Baker',
			'Nelson',
			'Carter',
			'Mitchell',
			'Roberts',
			'Campbell',
			'Parker',
			'Evans',
			'Edwards',
			'Collins',
			'Stewart',
			"O'Brien",
			"O'Connor",
			'McDonald',
			"D'Angelo",
			'Van der Berg',
			'St. James',
			'Smith-Jones',
		],
	},
	{
		weight: 0.25,
		female: [
			'María',
			'Sofía',
			'Valentina',
			'Camila',
			'Lucía',
			'Ximena',
			'Daniela',
			'Guadalupe',
			'Ana',
			'Isabel',
			'Renée',
			'Inés',
			'María José',
		],
		male: [
			'José',
			'Juan',
			'Luis',
			'Carlos',
			'Miguel',
			'Ángel',
			'Jesús',
			'Diego',
			'Mateo',
			'Santiago',
			'Andrés',
			'Julián',
			'Iñigo',
		],
		family: [
			'García',
			'Rodríguez',
			'Martínez',
			'Hernández',
			'López',
			'González',
			'Pérez',
			'Sánchez',
			'Ramírez',
			'Torres',
			'Flores',
			'Rivera',
			'Gómez',
			'Díaz',
			'Cruz',
			'Reyes',
			'Morales',
			'Ortiz',
			'Gutiérrez',
			'Chávez',
			'De la Cruz',
			'Muñoz',
			'Peña',
		],
	},
	{
		weight: 0.04,
		female: ['Linh', 'Mai', 'Thảo', 'Ngọc', 'Trang', 'Hương', 'Phương'],
		male: ['Minh', 'Huy', 'Khoa', 'Phúc', 'Đức', 'Quang', 'Tuấn'],
		family: ['Nguyễn', 'Trần', 'Lê', 'Phạm', 'Hoàng', 'Huỳnh', 'Phan', 'Vũ', 'Đặng', 'Bùi'],
	},
	{
		weight: 0.05,
		female: ['Åsa', 'Ingrid', 'Siobhán', 'Chloë', 'Anaïs', 'Małgorzata', 'Zoë', 'Björk', 'Françoise'],
		male: ['Øyvind', 'Søren', 'Jürgen', 'François', 'Björn', 'Łukasz', 'Zoltán', 'Jiří', 'Seán'],
		family: [
			'Øvergaard',
			'Müller',
			'Schröder',
			'Kowalski',
			'Ångström',
			'Dubois',
			'Lefèvre',
			'Novák',
			'Janssen',
			'Jørgensen',
			'Ó Súilleabháin',
			"O'Sullivan",
		],
	},
	{
		weight: 0.04,
		female: ['Wei', 'Jing', 'Xin', 'Yu Ting', 'Mei', 'Li Na'],
		male: ['Wei', 'Hao', 'Jun', 'Zhi Hao', 'Lei', 'Yong'],
		family: ['Wang', 'Li', 'Zhang', 'Liu', 'Chen', 'Huang', 'Zhao', 'Wu', 'Zhou'],
	},
	{
		weight: 0.015,
		female: ['芳', '静', '丽', '婷', '秀英'],
		male: ['伟', '强', '磊', '军', '志强'],
		family: ['王', '李', '张', '刘', '陈', '欧阳'],
	},
	{
		weight: 0.035,
		female: ['Fatima', 'Aisha', 'Layla', 'Mariam', 'Noor', 'Yasmin'],
		male: ['Omar', 'Yusuf', 'Ahmed', 'Ali', 'Hassan', 'Khalid'],
		family: ['Haddad', 'Khalil', 'Mansour', 'Nasser', 'Saleh', 'Abdullah', 'Al-Sayed', 'El-Amin'],
	},
	{
		weight: 0.01,
		female: ['فاطمة', 'عائشة', 'مريم', 'نور'],
		male: ['محمد', 'أحمد', 'علي', 'عمر'],
		family: ['الحسن', 'العلي', 'حداد', 'منصور'],
	},
];
const CULTURE_CUM: number[] = (() => {
	let acc = 0;
	return CULTURES.map((c) => (acc += c.weight));
})();

function pickCulture(r: number): number {
	const total = CULTURE_CUM[CULTURE_CUM.length - 1];
	const x = r * total;
	for (let i = 0; i < CULTURE_CUM.length; i++) if (x < CULTURE_CUM[i]) return i;
	return 0;
}

/** Names that need CSV quoting: a quoted nickname, or a suffix after a comma. */
const NICKNAMED: ReadonlyArray<readonly [string, string]> = [
	['Katherine "Kate"', 'female'],
	['Elizabeth "Liz"', 'female'],
	['Margaret "Peggy"', 'female'],
	['Robert "Bobby"', 'male'],
	['William "Bill"', 'male'],
	['Alexander "Sasha"', 'male'],
];
const SUFFIXES = [', Jr.', ', III', ', Sr.', ', II'];
const NICKNAMES: Record<string, string> = {
	Elizabeth: 'Liz',
	Alexander: 'Alex',
	William: 'Will',
	Katherine: 'Kate',
	Samuel: 'Sam',
	Benjamin: 'Ben',
	Matthew: 'Matt',
	Abigail: 'Abby',
	Daniel: 'Dan',
	Valentina: 'Vale',
	Guadalupe: 'Lupe',
	Santiago: 'Santi',
};
const PRONOUNS = ['she/her', 'he/him', 'they/them', 'she/they', 'he/they'];

const SCHOOL_NAMES = [
	'Lincoln',
	'Washington',
	'Jefferson',
	'Roosevelt',
	'Oak Grove',
	'Riverside',
	'César Chávez',
	'Sojourner Truth',
	'Maple Hill',
	'Cedar Creek',
	'Lakeview',
	'Hillcrest',
	'Sunnyside',
	'Pine Ridge',
	'Willow Park',
	'Eastside',
	'Westwood',
	'Northgate',
	'Southview',
	'Harriet Tubman',
	'Sally Ride',
	'Dolores Huerta',
	'Fred Korematsu',
	'Ellen Ochoa',
	'Mark Twain',
	'Amelia Earhart',
	'Rosa Parks',
	'Thurgood Marshall',
	'Garfield',
	'Madison',
	'Monroe',
	'Franklin',
	'Kennedy',
	'Edison',
	'Einstein',
	'Muir',
	'Audubon',
	'Carver',
	'Douglass',
	'Emerson',
	'Frost',
	'Hawthorne',
	'Irving',
	'Longfellow',
	'Whittier',
	'Alcott',
	'Thoreau',
	'Sequoia',
	'Redwood',
	'Aspen',
	'Birchwood',
	'Cottonwood',
	'Magnolia',
	'Juniper',
	'Sycamore',
	'Valley View',
	'Mountain View',
	'Ocean Crest',
	'Prairie Wind',
	'Desert Sky',
	"St. Mary's",
	'Ñandú Trail',
	'Bayside',
	'Brookside',
	'Fairview',
	'Greenfield',
	'Highland',
	'Kingswood',
	'Meadowbrook',
	'Parkside',
	'Rolling Hills',
	'Silver Lake',
	'Stonegate',
	'Summit',
	'Twin Oaks',
];
const DISTRICT_NAMES = [
	'Cedar Valley',
	'Riverbend',
	'Lakeshore',
	'Pine Hills',
	'Granite Falls',
	'Mesa Verde',
	'Bay Harbor',
	'Prairie View',
	'Silver Creek',
	'Oakmont',
];
const STATES = ['CA', 'TX', 'NY', 'FL', 'IL', 'WA', 'AZ', 'CO', 'NC', 'MN'];
const CITIES = ['Springfield', 'Riverside', 'Fairview', 'Franklin', 'Georgetown', 'Salem', 'Madison', 'Clinton'];
const COUNTRIES = ['MX', 'VN', 'CN', 'PH', 'IN', 'SV', 'GT', 'UA', 'SO', 'NG'];

// ───────────────────────────── courses and slots ─────────────────────────────

interface CourseOption {
	code: string;
	title: string;
}
interface SlotDef {
	key: string;
	subject: string;
	options: CourseOption[];
	homeroom: boolean;
	/** Semester-long course: sections alternate between fall and spring. */
	semester: boolean;
}

function slot(key: string, subject: string, options: Array<[string, string]>, semester = false): SlotDef {
	return { key, subject, options: options.map(([code, title]) => ({ code, title })), homeroom: false, semester };
}

/** The class slots a student of grade index `gi` takes (elementary: homeroom + specials; secondary: 6–7 courses). */
function slotsFor(gi: number): SlotDef[] {
	const g = GRADES[gi];
	const word = GRADE_WORD[gi];
	if (gi < G06) {
		const hr: SlotDef = {
			key: 'HR',
			subject: 'Homeroom',
			options: [{ code: `HR${g}`, title: `${word} Homeroom` }],
			homeroom: true,
			semester: false,
		};
		if (gi === 0)
			return [
				hr,
				slot('PE', 'Physical Education', [[`PE${g}`, `${word} Movement`]]),
				slot('MUS', 'Music', [[`MUS${g}`, `${word} Music`]]),
			];
		return [
			hr,
			slot('ART', 'Art', [[`ART${g}`, `${word} Art`]]),
			slot('MUS', 'Music', [[`MUS${g}`, `${word} Music`]]),
			slot('PE', 'Physical Education', [[`PE${g}`, `${word} P.E.`]]),
			slot('LIB', 'Library Media', [[`LIB${g}`, `${word} Library & Media`]]),
		];
	}
	if (gi < G09) {
		const n = Number(g);
		const math: Array<[string, string]> =
			n === 6
				? [['MATH6', 'Math 6']]
				: n === 7
					? [
							['MATH7', 'Math 7'],
							['PREALG', 'Pre-Algebra'],
						]
					: [
							['MATH8', 'Math 8'],
							['ALG1', 'Algebra I'],
						];
		const ss: Array<[string, string]> =
			n === 6
				? [['WGEO6', 'World Geography']]
				: n === 7
					? [['WHIST7', 'World History']]
					: [['USHIST8', 'U.S. History']];
		return [
			slot('ELA', 'English Language Arts', [[`ELA${g}`, `English Language Arts ${n}`]]),
			slot('MATH', 'Mathematics', math),
			slot('SCI', 'Science', [[`SCI${g}`, `Science ${n}`]]),
			slot('SS', 'Social Studies', ss),
			slot('PE', 'Physical Education', [[`PE${g}`, `Physical Education ${n}`]]),
			slot('EL1', 'Fine Arts', [
				['MSART', 'Art'],
				['MSBAND', 'Band'],
				['MSCHOIR', 'Choir'],
				['MSSPAN1', 'Spanish I'],
			]),
			slot(
				'EL2',
				'Electives',
				[
					['MSCSD', 'Computer Science Discoveries'],
					['MSHLTH', 'Health'],
					['MSDRAMA', 'Drama'],
					['MSFREN1', 'French I'],
				],
				true,
			),
		];
	}
	const n = Number(g);
	const ela: Array<[string, string]> =
		n === 9
			? [['ENG9', 'English 9']]
			: n === 10
				? [['ENG10', 'English 10']]
				: n === 11
					? [
							['ENG11', 'English 11'],
							['APLANG', 'AP English Language'],
						]
					: [
							['ENG12', 'English 12'],
							['APLIT', 'AP English Literature'],
						];
	const math: Array<[string, string]> =
		n === 9
			? [
					['ALG1', 'Algebra I'],
					['GEOM', 'Geometry'],
				]
			: n === 10
				? [
						['GEOM', 'Geometry'],
						['ALG2', 'Algebra II'],
					]
				: n === 11
					? [
							['ALG2', 'Algebra II'],
							['PRECALC', 'Precalculus'],
						]
					: [
							['PRECALC', 'Precalculus'],
							['APCALCAB', 'AP Calculus AB'],
							['STATS', 'Statistics'],
						];
	const sci: Array<[string, string]> =
		n === 9
			? [['BIO', 'Biology']]
			: n === 10
				? [
						['CHEM', 'Chemistry'],
						['ENVSCI', 'Environmental Science'],
					]
				: n === 11
					? [
							['PHYS', 'Physics'],
							['APBIO', 'AP Biology'],
						]
					: [
							['ANATPHYS', 'Anatomy & Physiology'],
							['APCHEM', 'AP Chemistry'],
						];
	const ss: Array<[string, string]> =
		n === 9
			? [['WGEO', 'World Geography']]
			: n === 10
				? [['WHIST', 'World History']]
				: n === 11
					? [
							['USHIST', 'U.S. History'],
							['APUSH', 'AP U.S. History'],
						]
					: [['ECONGOV', 'Economics, Government and Civics']];
	const pe: Array<[string, string]> =
		n === 9
			? [
					['PE9', 'Physical Education 9'],
					['HEALTH', 'Health'],
				]
			: n === 10
				? [['PE10', 'Physical Education 10']]
				: [
						['WEIGHTS', 'Weight Training'],
						['TEAMSPORTS', 'Team Sports'],
						['YOGA', 'Yoga & Wellness'],
					];
	const slots = [
		slot('ELA', 'English Language Arts', ela),
		slot('MATH', 'Mathematics', math),
		slot('SCI', 'Science', sci),
		slot('SS', 'Social Studies', ss),
		slot('PE', 'Physical Education', pe, n >= 11),
	];
	if (n <= 11) {
		const wl: Array<[string, string]> =
			n === 9
				? [
						['SPAN1', 'Spanish I'],
						['FREN1', 'French I'],
						['MAND1', 'Mandarin I'],
					]
				: n === 10
					? [
							['SPAN2', 'Spanish II'],
							['FREN2', 'French II'],
						]
					: [
							['SPAN3', 'Spanish III'],
							['APSPAN', 'AP Spanish Language'],
						];
		slots.push(slot('WL', 'World Languages', wl));
	}
	slots.push(
		slot('ELEC', 'Electives', [
			['ART1', 'Studio Art'],
			['BAND', 'Concert Band'],
			['CSP', 'Computer Science Principles'],
			['JOURN', 'Journalism'],
			['CULIN', 'Culinary Arts'],
			['ROBOT', 'Robotics'],
		]),
	);
	return slots;
}

/** Target section size by grade index. */
function sectionSize(gi: number): number {
	if (gi === 0) return 18;
	if (gi < G06) return 23;
	return 27;
}

// ───────────────────────────── plan ─────────────────────────────

type SchoolKind = 'elementary' | 'middle' | 'high' | 'k8' | 'k12';

interface School {
	no: number;
	id: string;
	name: string;
	kind: SchoolKind;
	identifier: string;
	grades: number[];
	cohortStart: number;
	cohortEnd: number;
	students: number;
	teacherStart: number;
	teacherCount: number;
}

interface Cohort {
	school: number;
	gi: number;
	start: number;
	n: number;
	sections: number;
	slots: SlotDef[];
	classBase: number;
	/** Per slot: multiplier and offset of the permutation l → (l*a + b) mod n. */
	permA: number[];
	permB: number[];
}

interface Course {
	id: string;
	title: string;
	code: string;
	grades: number[];
	school: number;
	subject: string;
}

interface ClassRec {
	id: string;
	title: string;
	classCode: string;
	classType: 'homeroom' | 'scheduled';
	location: string;
	terms: string;
	periods: string;
	course: number;
	school: number;
	gi: number;
	subject: string;
	teacher: number;
	coTeacher: number;
}

type StaffRole =
	| 'principal'
	| 'assistantPrincipal'
	| 'counselor'
	| 'aide'
	| 'proctor'
	| 'superintendent'
	| 'districtAdministrator'
	| 'systemAdministrator';

interface StaffRec {
	/** -1 = district office. */
	school: number;
	role: StaffRole;
}

interface Plan {
	seed: number;
	version: '1.1' | '1.2';
	resourceColumn: boolean;
	studentCount: number;
	district: { id: string; name: string; identifier: string; domain: string; state: string };
	schools: School[];
	cohorts: Cohort[];
	cohortStarts: Int32Array;
	courses: Course[];
	classes: ClassRec[];
	teacherSchool: Int32Array;
	/** Second school of a teacher, or -1. */
	teacherSecondSchool: Int32Array;
	/** Classes taught, for enrollments: per school, a list of class indices. */
	staff: StaffRec[];
	familyRoot: Int32Array;
	firstChild: Int32Array;
	nextChild: Int32Array;
}

const STAFF_IS_ADMIN: Record<StaffRole, boolean> = {
	principal: true,
	assistantPrincipal: true,
	counselor: false,
	aide: false,
	proctor: false,
	superintendent: true,
	districtAdministrator: true,
	systemAdministrator: true,
};
const STAFF_ROLE_11: Record<StaffRole, string> = {
	principal: 'administrator',
	assistantPrincipal: 'administrator',
	counselor: 'aide',
	aide: 'aide',
	proctor: 'proctor',
	superintendent: 'administrator',
	districtAdministrator: 'administrator',
	systemAdministrator: 'administrator',
};
const STAFF_ROLE_12: Record<StaffRole, string> = {
	principal: 'principal',
	assistantPrincipal: 'siteAdministrator',
	counselor: 'counselor',
	aide: 'aide',
	proctor: 'proctor',
	superintendent: 'districtAdministrator',
	districtAdministrator: 'districtAdministrator',
	systemAdministrator: 'systemAdministrator',
};

function gcd(a: number, b: number): number {
	while (b) [a, b] = [b, a % b];
	return a;
}

function pad(n: number, width: number): string {
	return String(n).padStart(width, '0');
}

/** Set from DistrictOptions.guidIds by buildPlan: the style of the people's sourcedIds below. */
let guidIds = false;

/** A GUID-shaped id (36 characters), unique per kind and number: `00000000-0000-4000-800<kind>-<number>`. */
function guid(kind: number, number: string): string {
	return `00000000-0000-4000-800${kind}-${number.padStart(12, '0')}`;
}

function studentId(index: number): string {
	return guidIds ? guid(1, String(index + 1)) : `stu-${pad(index + 1, 6)}`;
}
function teacherId(index: number): string {
	return guidIds ? guid(2, String(index + 1)) : `tch-${pad(index + 1, 5)}`;
}
function staffId(index: number): string {
	return guidIds ? guid(3, String(index + 1)) : `stf-${pad(index + 1, 5)}`;
}
function guardianId(root: number, k: number): string {
	return guidIds ? guid(4, `${root + 1}${pad(k + 1, 2)}`) : `gdn-${pad(root + 1, 6)}-${k + 1}`;
}

function buildPlan(options: DistrictOptions): Plan {
	guidIds = options.guidIds ?? false;
	const N = Math.floor(options.students);
	if (!Number.isFinite(N) || N < 1) throw new Error('writeDistrict: students must be ≥ 1');
	const seed = (options.seed ?? 1) | 0;
	const version = options.version ?? '1.1';
	if (version !== '1.1' && version !== '1.2') throw new Error(`writeDistrict: unknown version ${String(version)}`);
	const K = Math.max(1, Math.floor(options.schools ?? Math.max(1, Math.round(N / 800))));

	const dr = rngFor(seed, K_DISTRICT, 0);
	const dName = pick(dr, DISTRICT_NAMES);
	const district = {
		id: 'org-district',
		name: `${dName} Unified School District`,
		identifier: pad(Math.floor(dr() * 9_000_000) + 1_000_000, 7),
		domain: `${dName.toLowerCase().replace(/[^a-z]/g, '')}usd.example.org`,
		state: pick(dr, STATES),
	};

	// Schools and their grade spans.
	const kinds: SchoolKind[] = [];
	if (K === 1) kinds.push('k12');
	else if (K === 2) kinds.push('k8', 'high');
	else {
		const H = Math.max(1, Math.round(K * 0.2));
		const M = Math.max(1, Math.round(K * 0.22));
		const E = Math.max(1, K - H - M);
		for (let i = 0; i < E; i++) kinds.push('elementary');
		for (let i = 0; i < M; i++) kinds.push('middle');
		for (let i = 0; i < K - E - M; i++) kinds.push('high');
	}
	const span: Record<SchoolKind, [number, number]> = {
		elementary: [0, G06 - 1],
		middle: [G06, G09 - 1],
		high: [G09, 13],
		k8: [0, G09 - 1],
		k12: [0, 13],
	};
	const suffix: Record<SchoolKind, string> = {
		elementary: 'Elementary School',
		middle: 'Middle School',
		high: 'High School',
		k8: 'K-8 School',
		k12: 'K-12 Academy',
	};

	// Distinct school names: a seeded shuffle of the list, then numbered repeats.
	const names = [...SCHOOL_NAMES];
	for (let i = names.length - 1; i > 0; i--) {
		const j = Math.floor(dr() * (i + 1));
		[names[i], names[j]] = [names[j], names[i]];
	}
	const schools: School[] = kinds.map((kind, s) => {
		const sr = rngFor(seed, K_SCHOOL, s);
		const base = names[s % names.length];
		const round = Math.floor(s / names.length);
		let name = `${base} ${suffix[kind]}${round > 0 ? ` No. ${round + 1}` : ''}`;
		if (sr() < 0.06) name += pick(sr, [', North Campus', ', Annex', ' (Magnet)', ' "Home of the Eagles"']);
		const [lo, hi] = span[kind];
		const grades: number[] = [];
		for (let g = lo; g <= hi; g++) grades.push(g);
		return {
			no: s + 1,
			id: `org-sch-${pad(s + 1, 3)}`,
			name,
			kind,
			identifier: `${district.identifier}${pad(s + 1, 4)}`,
			grades,
			cohortStart: 0,
			cohortEnd: 0,
			students: 0,
			teacherStart: 0,
			teacherCount: 0,
		};
	});

	// Students per (school, grade): grade share by weight (PK half), split among the schools offering the
	// grade with a ±15 % school jitter, then cumulative rounding so the total is exactly N.
	const jitter = schools.map((_, s) => 0.85 + 0.3 * hashFloat(seed, K_SCHOOL, 1000 + s));
	const gradeWeight = (gi: number): number => (gi === 0 ? 0.5 : 1);
	let weightTotal = 0;
	for (let gi = 0; gi < GRADES.length; gi++) weightTotal += gradeWeight(gi);
	const jitterByGrade = GRADES.map((_, gi) =>
		schools.reduce((acc, sc, s) => acc + (sc.grades.includes(gi) ? jitter[s] : 0), 0),
	);
	const cohorts: Cohort[] = [];
	let cum = 0;
	let assigned = 0;
	for (let s = 0; s < schools.length; s++) {
		const sc = schools[s];
		sc.cohortStart = cohorts.length;
		for (const gi of sc.grades) {
			cum += (N * gradeWeight(gi) * jitter[s]) / (weightTotal * jitterByGrade[gi]);
			const isLast = s === schools.length - 1 && gi === sc.grades[sc.grades.length - 1];
			const upTo = isLast ? N : Math.min(N, Math.round(cum));
			const n = upTo - assigned;
			const slots = slotsFor(gi);
			const sections = n > 0 ? Math.max(1, Math.round(n / sectionSize(gi))) : 0;
			const permA: number[] = [];
			const permB: number[] = [];
			for (let k = 0; k < slots.length; k++) {
				// Elementary students travel as a homeroom group: every slot uses the homeroom permutation.
				const key = gi < G06 ? 0 : k;
				const pr = rngFor(seed, K_PERM, cohorts.length * 16 + key);
				let a = 1 + Math.floor(pr() * Math.max(1, n - 1));
				while (n > 1 && gcd(a, n) !== 1) a = (a % (n - 1)) + 1;
				permA.push(n > 0 ? a : 1);
				permB.push(n > 0 ? Math.floor(pr() * n) : 0);
			}
			cohorts.push({ school: s, gi, start: assigned, n, sections, slots, classBase: 0, permA, permB });
			assigned = upTo;
			sc.students += n;
		}
		sc.cohortEnd = cohorts.length;
	}
	const cohortStarts = Int32Array.from(cohorts.map((c) => c.start));

	// Courses (one per school and course code; grades merged) and classes (sections).
	const courses: Course[] = [];
	const classes: ClassRec[] = [];
	for (let s = 0; s < schools.length; s++) {
		const sc = schools[s];
		const courseByCode = new Map<string, number>();
		for (let c = sc.cohortStart; c < sc.cohortEnd; c++) {
			const co = cohorts[c];
			for (const sl of co.slots) {
				for (const opt of sl.options) {
					let ci = courseByCode.get(opt.code);
					if (ci === undefined) {
						ci = courses.length;
						courseByCode.set(opt.code, ci);
						courses.push({
							id: `crs-${pad(sc.no, 3)}-${opt.code}`,
							title: opt.title,
							code: opt.code,
							grades: [],
							school: s,
							subject: sl.subject,
						});
					}
					const course = courses[ci];
					if (!course.grades.includes(co.gi)) course.grades.push(co.gi);
				}
			}
			co.classBase = classes.length;
			const S = co.sections;
			co.slots.forEach((sl, k) => {
				const O = sl.options.length;
				for (let sec = 0; sec < S; sec++) {
					const o = Math.floor((sec * O) / S);
					const opt = sl.options[o];
					const secInOpt = sec - Math.ceil((o * S) / O) + 1;
					const courseIdx = courseByCode.get(opt.code) as number;
					const secondary = co.gi >= G06;
					const period = secondary ? String(((k + sec) % 7) + 1) : '';
					const terms =
						sl.homeroom || !secondary ? YEAR_ID : sl.semester ? (sec % 2 === 0 ? S1_ID : S2_ID) : BOTH_SEMESTERS;
					classes.push({
						id: `cls-${pad(sc.no, 3)}-${GRADES[co.gi]}-${sl.key}-${pad(sec + 1, 2)}`,
						title: sl.homeroom
							? `${opt.title} ${String.fromCharCode(65 + (sec % 26))}${sec >= 26 ? Math.floor(sec / 26) : ''}`
							: `${opt.title} - Section ${secInOpt}`,
						classCode: `${opt.code}-${pad(secInOpt, 2)}`,
						classType: sl.homeroom ? 'homeroom' : 'scheduled',
						location: `Room ${100 + ((c * 7 + k * 13 + sec) % 180)}`,
						terms,
						periods: period,
						course: courseIdx,
						school: s,
						gi: co.gi,
						subject: sl.homeroom ? 'Homeroom' : sl.subject,
						teacher: -1,
						coTeacher: -1,
					});
				}
			});
		}
	}

	// Teachers: one per homeroom, the other classes dealt in contiguous blocks of a subject-ordered list.
	const teacherSchoolList: number[] = [];
	for (let s = 0; s < schools.length; s++) {
		const sc = schools[s];
		const homerooms: number[] = [];
		const others: number[] = [];
		const first = sc.cohortStart < sc.cohortEnd ? cohorts[sc.cohortStart].classBase : classes.length;
		const end = sc.cohortEnd < cohorts.length ? cohorts[sc.cohortEnd].classBase : classes.length;
		for (let ci = first; ci < end; ci++) (classes[ci].classType === 'homeroom' ? homerooms : others).push(ci);
		others.sort((x, y) => {
			const a = classes[x];
			const b = classes[y];
			return a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : a.gi - b.gi || x - y;
		});
		const otherTeachers = Math.max(1, Math.round(sc.students / 16) - homerooms.length, Math.ceil(others.length / 25));
		sc.teacherStart = teacherSchoolList.length;
		sc.teacherCount = homerooms.length + (others.length > 0 || homerooms.length === 0 ? otherTeachers : 0);
		for (let t = 0; t < sc.teacherCount; t++) teacherSchoolList.push(s);
		homerooms.forEach((ci, t) => (classes[ci].teacher = sc.teacherStart + t));
		const T = sc.teacherCount - homerooms.length;
		for (let j = 0; j < others.length; j++)
			classes[others[j]].teacher = sc.teacherStart + homerooms.length + Math.floor((j * T) / others.length);
		// ~10 % of classes co-taught by another teacher of the school.
		if (sc.teacherCount > 1) {
			for (let ci = first; ci < end; ci++) {
				const r = hashFloat(seed, K_COTEACH, ci);
				if (r < 0.1) {
					const local = classes[ci].teacher - sc.teacherStart;
					const off = 1 + Math.floor(hashFloat(seed, K_COTEACH + 100, ci) * (sc.teacherCount - 1));
					classes[ci].coTeacher = sc.teacherStart + ((local + off) % sc.teacherCount);
				}
			}
		}
	}
	const teacherSchool = Int32Array.from(teacherSchoolList);
	const teacherSecondSchool = new Int32Array(teacherSchool.length).fill(-1);
	if (schools.length > 1) {
		for (let t = 0; t < teacherSchool.length; t++) {
			if (hashFloat(seed, K_MULTI_SCHOOL, t) < 0.03) {
				const s = teacherSchool[t];
				const same = schools.filter((x, i) => i !== s && x.kind === schools[s].kind);
				const pool = same.length > 0 ? same : schools.filter((_, i) => i !== s);
				teacherSecondSchool[t] = pool[Math.floor(hashFloat(seed, K_MULTI_SCHOOL + 100, t) * pool.length)].no - 1;
			}
		}
	}

	// Staff and administrators: teachers + staff + admins ≈ 8 % of students.
	const staff: StaffRec[] = [];
	staff.push({ school: -1, role: 'superintendent' }, { school: -1, role: 'systemAdministrator' });
	for (let i = 0; i < Math.round(N / 25000); i++) staff.push({ school: -1, role: 'districtAdministrator' });
	for (let s = 0; s < schools.length; s++) {
		const n = schools[s].students;
		const total = Math.max(2, Math.round(n * 0.0175));
		const aps = Math.floor(n / 600);
		const counselors = Math.max(1, Math.round(n / 400));
		const proctors = schools[s].kind === 'high' || schools[s].kind === 'k12' ? 1 : 0;
		staff.push({ school: s, role: 'principal' });
		for (let i = 0; i < aps; i++) staff.push({ school: s, role: 'assistantPrincipal' });
		for (let i = 0; i < counselors; i++) staff.push({ school: s, role: 'counselor' });
		for (let i = 0; i < proctors; i++) staff.push({ school: s, role: 'proctor' });
		for (let i = 0; i < total - 1 - aps - counselors - proctors; i++) staff.push({ school: s, role: 'aide' });
	}

	// Families: ~8 % of students are a younger sibling of an earlier student and share that family's guardians.
	const familyRoot = new Int32Array(N);
	for (let i = 0; i < N; i++) {
		if (i > 0 && hashFloat(seed, K_SIBLING, i) < 0.08)
			familyRoot[i] = familyRoot[Math.floor(hashFloat(seed, K_SIBLING + 100, i) * i)];
		else familyRoot[i] = i;
	}
	const firstChild = new Int32Array(N).fill(-1);
	const nextChild = new Int32Array(N).fill(-1);
	for (let i = N - 1; i >= 0; i--) {
		nextChild[i] = firstChild[familyRoot[i]];
		firstChild[familyRoot[i]] = i;
	}

	return {
		seed,
		version,
		resourceColumn: options.resourceSourcedIdsColumn ?? true,
		studentCount: N,
		district,
		schools,
		cohorts,
		cohortStarts,
		courses,
		classes,
		teacherSchool,
		teacherSecondSchool,
		staff,
		familyRoot,
		firstChild,
		nextChild,
	};
}

function cohortOf(plan: Plan, student: number): number {
	const a = plan.cohortStarts;
	let lo = 0;
	let hi = a.length - 1;
	while (lo < hi) {
		const mid = (lo + hi + 1) >> 1;
		if (a[mid] <= student) lo = mid;
		else hi = mid - 1;
	}
	// Skip empty cohorts that share the same start.
	while (lo + 1 < a.length && a[lo + 1] <= student) lo++;
	while (plan.cohorts[lo].n === 0 && lo > 0) lo--;
	return lo;
}

/** Section of student at local index `l` of cohort `co` in slot `k`. */
function sectionOf(co: Cohort, k: number, l: number): number {
	const pos = (l * co.permA[k] + co.permB[k]) % co.n;
	return Math.floor((pos * co.sections) / co.n);
}

// ───────────────────────────── people ─────────────────────────────

const foldCache = new Map<string, string>();
/** ASCII fold for usernames and email local parts ("Nguyễn" → "nguyen", "Øyvind" → "oyvind"; CJK → ""). */
function fold(s: string): string {
	let f = foldCache.get(s);
	if (f === undefined) {
		f = s
			.replace(/[øØ]/g, 'o')
			.replace(/[đĐ]/g, 'd')
			.replace(/[łŁ]/g, 'l')
			.replace(/ß/g, 'ss')
			.normalize('NFD')
			.replace(/[\u0300-\u036f]/g, '')
			.toLowerCase()
			.replace(/[^a-z0-9]/g, '');
		foldCache.set(s, f);
	}
	return f;
}

interface Person {
	id: string;
	/** Primary org first. */
	orgs: string[];
	role11: string;
	role12: string;
	username: string;
	userIds: string;
	given: string;
	family: string;
	middle: string;
	identifier: string;
	email: string;
	sms: string;
	phone: string;
	agents: string[];
	grade: string;
	preferredGiven: string;
	pronouns: string;
}

interface StudentDraw {
	culture: number;
	female: boolean;
	given: string;
	middle: string;
	/** Family name without a generational suffix: what siblings and guardians share. */
	familyBase: string;
	/** Own generational suffix (", Jr.") or "". */
	suffix: string;
	preferredGiven: string;
	pronouns: string;
	hasEmail: boolean;
	sexOther: boolean;
	birthDay: number;
	race: number;
	hispanic: boolean;
	bornUS: boolean;
	country: string;
	state: string;
	city: string;
}

/** Draws one student's own attributes (fixed draw order: never reorder, the output depends on it). */
function drawStudent(seed: number, index: number): StudentDraw {
	const r = rngFor(seed, K_STUDENT, index);
	const culture = pickCulture(r());
	const cu = CULTURES[culture];
	const female = r() < 0.5;
	let given = pick(r, female ? cu.female : cu.male);
	const middle = r() < 0.4 ? pick(r, female ? CULTURES[0].female : CULTURES[0].male) : '';
	const familyBase = pick(r, cu.family);
	let suffix = '';
	const special = r();
	if (special < 0.003)
		given = NICKNAMED.filter(([, sx]) => (sx === 'female') === female).map(([n]) => n)[Math.floor(r() * 3)];
	else if (special < 0.006) suffix = SUFFIXES[Math.floor(r() * SUFFIXES.length)];
	const pref = r();
	const preferredGiven = pref < 0.05 ? (NICKNAMES[given] ?? given.split(' ')[0]) : '';
	const pronouns = r() < 0.1 ? pick(r, PRONOUNS) : '';
	const hasEmail = r() >= 0.05;
	const sexOther = r() < 0.02;
	const birthDay = Math.floor(r() * 365);
	const race = r();
	const hispanic = r() < (culture === 1 ? 0.9 : 0.08);
	const bornUS = r() < 0.9;
	const country = pick(r, COUNTRIES);
	const state = r() < 0.8 ? '' : pick(r, STATES);
	const city = pick(r, CITIES);
	return {
		culture,
		female,
		given,
		middle,
		familyBase,
		suffix,
		preferredGiven,
		pronouns,
		hasEmail,
		sexOther,
		birthDay,
		race,
		hispanic,
		bornUS,
		country,
		state,
		city,
	};
}

function guardianCount(seed: number, root: number): number {
	const x = hashFloat(seed, K_GUARDIAN_COUNT, root);
	return x < 0.42 ? 1 : x < 0.95 ? 2 : 3;
}

// ───────────────────────────── CSV writing ─────────────────────────────

const NEEDS_QUOTE = /[",\r\n]/;
function q(s: string): string {
	return NEEDS_QUOTE.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
function list(items: readonly string[]): string {
	return q(items.join(','));
}

const CHUNK_BYTES = 1 << 20;

/**
 * Buffered CSV file: each line is UTF-8 encoded straight into a 1 MB Buffer (so the line strings die young
 * and no big strings are built); full Buffers are handed to a WriteStream, awaiting 'drain' (backpressure).
 */
class CsvFile {
	rows = 0;
	private chunk: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
	private pos = 0;
	private ready: Buffer[] = [];
	private readonly stream: fs.WriteStream;
	private failure: Error | null = null;

	constructor(file: string, header: readonly string[]) {
		this.stream = fs.createWriteStream(file, { highWaterMark: 4 * CHUNK_BYTES });
		this.stream.on('error', (err) => (this.failure = err));
		this.pos = this.chunk.write(header.join(',') + '\n', 0);
	}

	/** Appends one complete line (with its trailing newline). Call `flush` when `full`. */
	line(s: string): void {
		// A UTF-16 code unit is at most 3 UTF-8 bytes.
		if (this.pos + s.length * 3 > this.chunk.length) {
			this.ready.push(this.chunk.subarray(0, this.pos));
			this.chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, s.length * 3));
			this.pos = 0;
		}
		this.pos += this.chunk.write(s, this.pos);
		this.rows++;
	}

	get full(): boolean {
		return this.ready.length > 0;
	}

	/** Writes the full chunks (and with `all`, the partial one too). */
	async flush(all = false): Promise<void> {
		if (this.failure) throw this.failure;
		if (all && this.pos > 0) {
			this.ready.push(this.chunk.subarray(0, this.pos));
			this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
			this.pos = 0;
		}
		const chunks = this.ready;
		this.ready = [];
		for (const c of chunks) if (!this.stream.write(c)) await this.waitDrain();
	}

	private waitDrain(): Promise<void> {
		return new Promise((resolve, reject) => {
			const onDrain = (): void => {
				this.stream.off('error', onError);
				resolve();
			};
			const onError = (err: Error): void => {
				this.stream.off('drain', onDrain);
				reject(err);
			};
			this.stream.once('drain', onDrain);
			this.stream.once('error', onError);
		});
	}

	async close(): Promise<void> {
		await this.flush(true);
		await new Promise<void>((resolve, reject) => {
			this.stream.once('error', reject);
			this.stream.end(() => resolve());
		});
		if (this.failure) throw this.failure;
	}
}

/** The column names the engine's spec (spec.ts) lists for one of a version's staged files, in order. */
function specHeader(version: OneRosterVersion, entity: StagedEntity): string[] {
	const file = STAGED_FILES[version].find((f) => f.entity === entity);
	if (!file) throw new Error(`OneRoster ${version} stages no ${entity}.csv`);
	return file.columns.map((c) => c.name);
}

/** users.csv: the spec's columns, less 1.2's resourceSourcedIds when the plan leaves that column out. */
function usersHeader(plan: Plan): string[] {
	const columns = specHeader(plan.version, 'users');
	return plan.resourceColumn ? columns : columns.filter((c) => c !== 'resourceSourcedIds');
}

const MANIFEST_FILES_11 = [
	'academicSessions',
	'categories',
	'classes',
	'classResources',
	'courses',
	'courseResources',
	'demographics',
	'enrollments',
	'lineItems',
	'orgs',
	'resources',
	'results',
	'users',
];
const MANIFEST_FILES_12 = [
	'academicSessions',
	'categories',
	'classes',
	'classResources',
	'courses',
	'courseResources',
	'demographics',
	'enrollments',
	'lineItemLearningObjectiveIds',
	'lineItems',
	'lineItemScoreScales',
	'orgs',
	'resources',
	'resultLearningObjectiveIds',
	'results',
	'resultScoreScales',
	'roles',
	'scoreScales',
	'userProfiles',
	'userResources',
	'users',
];

function orgsCsv(plan: Plan): string {
	let s = specHeader(plan.version, 'orgs').join(',') + '\n';
	s += `${plan.district.id},,,${q(plan.district.name)},district,${plan.district.identifier},\n`;
	for (const sc of plan.schools) s += `${sc.id},,,${q(sc.name)},school,${sc.identifier},${plan.district.id}\n`;
	return s;
}

function manifestCsv(version: '1.1' | '1.2', present: Set<string>): string {
	let s = MANIFEST_COLUMNS.join(',') + '\nmanifest.version,1.0\n';
	s += `oneroster.version,${version}\n`;
	for (const f of version === '1.1' ? MANIFEST_FILES_11 : MANIFEST_FILES_12)
		s += `file.${f},${present.has(f) ? 'bulk' : 'absent'}\n`;
	s += 'source.systemName,RosterSync Synthetic SIS\nsource.systemCode,rostersync-bench\n';
	return s;
}

// ───────────────────────────── day two ─────────────────────────────

interface AddedStudent {
	index: number;
	cohort: number;
	sections: number[];
}

interface Mutation {
	studentChange: Map<number, ChangeKind>;
	studentGradeTo: Map<number, number>;
	studentGone: Set<number>;
	teacherChange: Map<number, ChangeKind>;
	staffChange: Map<number, ChangeKind>;
	staffGone: Set<number>;
	added: AddedStudent[];
	changes: Map<string, ChangeKind>;
	goneIds: string[];
}

/** k distinct integers from [0, n) (Floyd's algorithm), in ascending order. */
function sample(rng: Rng, n: number, k: number): number[] {
	k = Math.min(n, Math.max(0, k));
	const chosen = new Set<number>();
	for (let j = n - k; j < n; j++) {
		const t = Math.floor(rng() * (j + 1));
		chosen.add(chosen.has(t) ? j : t);
	}
	return [...chosen].sort((a, b) => a - b);
}

function buildMutation(plan: Plan, options: DayTwoOptions): Mutation {
	const changedPct = options.changedPercent ?? 1;
	const gonePct = options.gonePercent ?? 0.5;
	const newPct = options.newPercent ?? 0.5;
	const rng = rngFor(options.dayTwoSeed ?? plan.seed, K_DAY2, 0);
	const N = plan.studentCount;
	const m: Mutation = {
		studentChange: new Map(),
		studentGradeTo: new Map(),
		studentGone: new Set(),
		teacherChange: new Map(),
		staffChange: new Map(),
		staffGone: new Set(),
		added: [],
		changes: new Map(),
		goneIds: [],
	};

	const nChanged = Math.round((N * changedPct) / 100);
	const nGone = Math.round((N * gonePct) / 100);
	const picked = sample(rng, N, nChanged + nGone);
	// Shuffle the picks so changed and gone are both spread over the district.
	for (let i = picked.length - 1; i > 0; i--) {
		const j = Math.floor(rng() * (i + 1));
		[picked[i], picked[j]] = [picked[j], picked[i]];
	}
	for (const i of picked.slice(nChanged).sort((a, b) => a - b)) m.studentGone.add(i);
	for (const i of picked.slice(0, nChanged).sort((a, b) => a - b)) {
		const r = rng();
		let kind: ChangeKind = r < 0.4 ? 'familyName' : r < 0.7 ? 'email' : 'grades';
		if (kind === 'grades') {
			const co = plan.cohorts[cohortOf(plan, i)];
			const grades = plan.schools[co.school].grades;
			const to = grades.includes(co.gi + 1) ? co.gi + 1 : grades.includes(co.gi - 1) ? co.gi - 1 : -1;
			if (to < 0) kind = 'email';
			else m.studentGradeTo.set(i, to);
		}
		m.studentChange.set(i, kind);
	}
	const T = plan.teacherSchool.length;
	for (const t of sample(rng, T, Math.round((T * changedPct) / 100)))
		m.teacherChange.set(t, rng() < 0.6 ? 'familyName' : 'email');
	const staffOnly: number[] = [];
	const adminOnly: number[] = [];
	plan.staff.forEach((st, i) => (STAFF_IS_ADMIN[st.role] ? adminOnly : staffOnly).push(i));
	const nStaffChanged = Math.round((staffOnly.length * changedPct) / 100);
	const staffPicks = sample(rng, staffOnly.length, nStaffChanged + Math.round((staffOnly.length * gonePct) / 100));
	for (let i = staffPicks.length - 1; i > 0; i--) {
		const j = Math.floor(rng() * (i + 1));
		[staffPicks[i], staffPicks[j]] = [staffPicks[j], staffPicks[i]];
	}
	staffPicks.forEach((p, j) => {
		if (j < nStaffChanged) m.staffChange.set(staffOnly[p], rng() < 0.6 ? 'familyName' : 'email');
		else m.staffGone.add(staffOnly[p]);
	});
	for (const p of sample(rng, adminOnly.length, Math.round((adminOnly.length * changedPct) / 100)))
		m.staffChange.set(adminOnly[p], rng() < 0.6 ? 'familyName' : 'email');

	const nNew = Math.round((N * newPct) / 100);
	for (let j = 0; j < nNew; j++) {
		const ar = rngFor(plan.seed, K_NEW_STUDENT, j + (options.dayTwoSeed ?? 0) * 7919);
		const c = cohortOf(plan, Math.floor(ar() * N));
		const co = plan.cohorts[c];
		const homeroom = Math.floor(ar() * co.sections);
		// Elementary students travel with their homeroom group; secondary sections are independent.
		m.added.push({
			index: N + j,
			cohort: c,
			sections: co.slots.map(() => (co.gi < G06 ? homeroom : Math.floor(ar() * co.sections))),
		});
	}

	for (const [i, kind] of m.studentChange) m.changes.set(studentId(i), kind);
	for (const [t, kind] of m.teacherChange) m.changes.set(teacherId(t), kind);
	for (const [s, kind] of m.staffChange) m.changes.set(staffId(s), kind);
	for (const i of m.studentGone) m.goneIds.push(studentId(i));
	for (const s of m.staffGone) m.goneIds.push(staffId(s));
	return m;
}

function otherFamily(culture: number, current: string, r: Rng): string {
	const pool = CULTURES[culture].family.filter((f) => f !== current);
	return pick(r, pool.length > 0 ? pool : ['Renamed']);
}

// ───────────────────────────── the writer ─────────────────────────────

interface WriteOutput {
	counts: DistrictCounts;
	goneContacts: string[];
	addedContacts: string[];
	contactsWithGoneChild: string[];
}

async function writeAll(dir: string, plan: Plan, mut: Mutation | null): Promise<WriteOutput> {
	await fs.promises.mkdir(dir, { recursive: true });
	const v12 = plan.version === '1.2';
	const seed = plan.seed;
	const { district, schools, cohorts, classes, courses } = plan;
	const studentDomain = `students.${district.domain}`;

	// Small files first.
	await fs.promises.writeFile(path.join(dir, 'orgs.csv'), orgsCsv(plan));
	let sessions = specHeader(plan.version, 'academicSessions').join(',') + '\n';
	sessions += `${YEAR_ID},,,2025-2026,schoolYear,2025-08-18,2026-06-05,,2026\n`;
	sessions += `${S1_ID},,,Fall 2025,semester,2025-08-18,2026-01-16,${YEAR_ID},2026\n`;
	sessions += `${S2_ID},,,Spring 2026,semester,2026-01-20,2026-06-05,${YEAR_ID},2026\n`;
	await fs.promises.writeFile(path.join(dir, 'academicSessions.csv'), sessions);

	const coursesFile = new CsvFile(path.join(dir, 'courses.csv'), specHeader(plan.version, 'courses'));
	for (const c of courses) {
		coursesFile.line(
			`${c.id},,,${YEAR_ID},${q(c.title)},${c.code},${list(c.grades.map((g) => GRADES[g]))},${schools[c.school].id},${q(c.subject)},\n`,
		);
		if (coursesFile.full) await coursesFile.flush();
	}
	await coursesFile.close();

	const classesFile = new CsvFile(path.join(dir, 'classes.csv'), specHeader(plan.version, 'classes'));
	for (const c of classes) {
		classesFile.line(
			`${c.id},,,${q(c.title)},${GRADES[c.gi]},${courses[c.course].id},${c.classCode},${c.classType},${c.location},${schools[c.school].id},${c.terms},${q(c.subject)},,${c.periods}\n`,
		);
		if (classesFile.full) await classesFile.flush();
	}
	await classesFile.close();

	// The big three (four with roles.csv) are written together, person by person.
	const users = new CsvFile(path.join(dir, 'users.csv'), usersHeader(plan));
	const roles = v12 ? new CsvFile(path.join(dir, 'roles.csv'), specHeader(plan.version, 'roles')) : null;
	const enrollments = new CsvFile(path.join(dir, 'enrollments.csv'), specHeader(plan.version, 'enrollments'));
	const demographics = new CsvFile(path.join(dir, 'demographics.csv'), specHeader(plan.version, 'demographics'));
	const files = [users, enrollments, demographics, ...(roles ? [roles] : [])];
	const flushFull = async (): Promise<void> => {
		for (const f of files) if (f.full) await f.flush();
	};
	const counts: DistrictCounts = {
		orgs: 1 + schools.length,
		academicSessions: 3,
		courses: courses.length,
		classes: classes.length,
		users: 0,
		students: 0,
		teachers: 0,
		staff: 0,
		admins: 0,
		guardians: 0,
		enrollments: 0,
		demographics: 0,
	};
	const goneContacts: string[] = [];
	const addedContacts: string[] = [];
	const contactsWithGoneChild: string[] = [];

	const writePerson = (p: Person): void => {
		if (v12) {
			users.line(
				`${p.id},,,true,${q(p.username)},${p.userIds},${q(p.given)},${q(p.family)},${q(p.middle)},${p.identifier},${q(p.email)},${p.sms},${p.phone},${list(p.agents)},${p.grade},,${plan.resourceColumn ? ',' : ''},${q(p.preferredGiven)},,,${p.orgs[0]},${p.pronouns}\n`,
			);
			for (let k = 0; k < p.orgs.length; k++)
				roles!.line(
					`rol-${p.id}-${k + 1},,,${p.id},${k === 0 ? 'primary' : 'secondary'},${p.role12},,,${p.orgs[k]},\n`,
				);
		} else {
			users.line(
				`${p.id},,,true,${list(p.orgs)},${p.role11},${q(p.username)},${p.userIds},${q(p.given)},${q(p.family)},${q(p.middle)},${p.identifier},${q(p.email)},${p.sms},${p.phone},${list(p.agents)},${p.grade},\n`,
			);
		}
	};

	/**
	 * A teacher's or staff member's users row: the employee `number` gives identifier, username and userIds;
	 * `word` stands in for a name that folds to nothing. Day two's changes draw from `r` (after the caller's draws).
	 */
	const employee = (
		r: Rng,
		culture: number,
		number: number,
		word: string,
		change: ChangeKind | undefined,
		person: Pick<Person, 'id' | 'orgs' | 'role11' | 'role12' | 'given' | 'family' | 'middle' | 'preferredGiven' | 'pronouns'>,
	): Person => {
		const { given } = person;
		let { family } = person;
		const username = `${fold(given).slice(0, 1) || 'x'}${fold(family).slice(0, 14) || word}${number}`;
		let email = `${username}@${district.domain}`;
		if (change === 'familyName') family = otherFamily(culture, family, r);
		if (change === 'email') email = `${fold(given) || word}.${fold(family) || number}.${number}@${district.domain}`;
		return {
			...person,
			family,
			username,
			userIds: `"{SIS:E${number}},{LDAP:${username}}"`,
			identifier: `E${number}`,
			email,
			sms: '',
			phone: '',
			agents: [],
			grade: '',
		};
	};

	const staffPerson = (i: number, change: ChangeKind | undefined): Person => {
		const st = plan.staff[i];
		const r = rngFor(seed, K_STAFF, i);
		const ci = pickCulture(r());
		const cu = CULTURES[ci];
		const female = r() < 0.62;
		const given = pick(r, female ? cu.female : cu.male);
		const family = pick(r, cu.family);
		return employee(r, ci, 70001 + i, 'staff', change, {
			id: staffId(i),
			orgs: [st.school < 0 ? district.id : schools[st.school].id],
			role11: STAFF_ROLE_11[st.role],
			role12: STAFF_ROLE_12[st.role],
			given,
			family,
			middle: '',
			preferredGiven: '',
			pronouns: '',
		});
	};

	const teacherPerson = (t: number, change: ChangeKind | undefined): Person => {
		const r = rngFor(seed, K_TEACHER, t);
		const ci = pickCulture(r());
		const cu = CULTURES[ci];
		const female = r() < 0.74;
		const given = pick(r, female ? cu.female : cu.male);
		const family = pick(r, cu.family);
		const middle = r() < 0.3 ? pick(r, female ? CULTURES[0].female : CULTURES[0].male) : '';
		const preferredGiven = r() < 0.05 ? (NICKNAMES[given] ?? '') : '';
		const pronouns = r() < 0.15 ? pick(r, PRONOUNS) : '';
		const orgs = [schools[plan.teacherSchool[t]].id];
		if (plan.teacherSecondSchool[t] >= 0) orgs.push(schools[plan.teacherSecondSchool[t]].id);
		return employee(r, ci, 50001 + t, 'teacher', change, {
			id: teacherId(t),
			orgs,
			role11: 'teacher',
			role12: 'teacher',
			given,
			family,
			middle,
			preferredGiven,
			pronouns,
		});
	};

	const writeStudent = (i: number, co: Cohort, sectionsOf: (k: number) => number, beginDate: string): void => {
		const d = drawStudent(seed, i);
		let family = d.familyBase;
		const root = i < plan.studentCount ? plan.familyRoot[i] : i;
		if (root !== i && hashFloat(seed, K_SIBLING + 200, i) < 0.85) family = drawStudent(seed, root).familyBase;
		family += d.suffix;
		const number = 200001 + i;
		const sid = studentId(i);
		const username = `${fold(d.given).slice(0, 1) || 's'}${fold(family).slice(0, 14) || 'student'}${number}`;
		let email = d.hasEmail ? `${username}@${studentDomain}` : '';
		let gi = co.gi;
		const change = mut?.studentChange.get(i);
		if (change === 'familyName') family = otherFamily(d.culture, family, rngFor(seed, K_RENAME, i));
		if (change === 'email') email = `${fold(d.given) || 's'}.${fold(family) || 'student'}.${number}@${studentDomain}`;
		if (change === 'grades') gi = mut!.studentGradeTo.get(i) as number;
		const school = schools[co.school];
		const agents: string[] = [];
		const g = guardianCount(seed, root);
		for (let k = 0; k < g; k++) agents.push(guardianId(root, k));
		writePerson({
			id: sid,
			orgs: [school.id],
			role11: 'student',
			role12: 'student',
			username,
			userIds: `{SIS:${number}}`,
			given: d.given,
			family,
			middle: d.middle,
			identifier: String(number),
			email,
			sms: '',
			phone: '',
			agents,
			grade: GRADES[gi],
			preferredGiven: v12 ? d.preferredGiven : '',
			pronouns: v12 ? d.pronouns : '',
		});
		counts.students++;

		for (let k = 0; k < co.slots.length; k++) {
			const cls = classes[co.classBase + k * co.sections + sectionsOf(k)];
			enrollments.line(`enr-${pad(i + 1, 6)}-${k + 1},,,${cls.id},${school.id},${sid},student,false,${beginDate},\n`);
		}

		// Demographics: born between Sep 2 and Sep 1 so that the student is of age for the grade on Sep 1, 2025.
		const birth = new Date(Date.UTC(2025 - (co.gi - 1) - 6, 8, 2) + d.birthDay * 86_400_000).toISOString().slice(0, 10);
		const sex = v12 && d.sexOther ? 'unspecified' : d.female ? 'female' : 'male';
		const x = d.race;
		const aian = x < 0.01;
		const asian = x >= 0.01 && x < 0.08;
		const black = x >= 0.08 && x < 0.23;
		const nhpi = x >= 0.23 && x < 0.235;
		const two = x >= 0.235 && x < 0.275;
		const white = x >= 0.275 || two;
		const b = (v: boolean): string => (v ? 'true' : 'false');
		demographics.line(
			`${sid},,,${birth},${sex},${b(aian)},${b(asian || (two && d.culture >= 4))},${b(black || (two && d.culture < 4))},${b(nhpi)},${b(white)},${b(two)},${b(d.hispanic)},${d.bornUS ? 'US' : d.country},${d.bornUS ? d.state || district.state : ''},${q(d.city)},\n`,
		);
		counts.demographics++;
	};

	/** Guardians of the family rooted at `root`, with its (remaining) children. */
	const writeGuardians = (root: number, children: number[], childSchools: string[], isNew: boolean): void => {
		const g = guardianCount(seed, root);
		const rootDraw = drawStudent(seed, root);
		for (let k = 0; k < g; k++) {
			const id = guardianId(root, k);
			if (children.length === 0) {
				goneContacts.push(id);
				continue;
			}
			const r = rngFor(seed, K_GUARDIAN, root * 4 + k);
			const ci = r() < 0.85 ? rootDraw.culture : pickCulture(r());
			const cu = CULTURES[ci];
			const female = k === 0 ? r() < 0.65 : r() < 0.4;
			const given = pick(r, female ? cu.female : cu.male);
			const family = r() < 0.75 ? rootDraw.familyBase : pick(r, cu.family);
			const roleDraw = r();
			const role = roleDraw < 0.85 ? 'parent' : roleDraw < 0.97 ? 'guardian' : 'relative';
			const hasEmail = r() < 0.88;
			const phoneDraw = Math.floor(r() * 10_000_000);
			const hasPhone = r() < 0.9;
			const hasSms = r() < 0.55;
			const mail = pick(r, ['example.com', 'example.net', 'example.org', 'mail.example.com']);
			// Unique per guardian: the family number and the guardian's position in it.
			const local = `${fold(given) || 'parent'}.${fold(family) || 'family'}${(root + 1) * 4 + k}`;
			const phone = hasPhone ? `+1555${pad(phoneDraw, 7)}` : '';
			const orgs = [...new Set(childSchools)];
			writePerson({
				id,
				orgs,
				role11: role,
				role12: role,
				username: local,
				userIds: '',
				given,
				family,
				middle: '',
				identifier: '',
				email: hasEmail ? `${local}@${mail}` : '',
				sms: hasSms ? phone : '',
				phone,
				agents: children.map(studentId),
				grade: '',
				preferredGiven: '',
				pronouns: '',
			});
			counts.guardians++;
			if (isNew) addedContacts.push(id);
		}
	};

	// District office.
	for (let i = 0; i < plan.staff.length; i++) {
		if (plan.staff[i].school >= 0) continue;
		writePerson(staffPerson(i, mut?.staffChange.get(i)));
		counts.admins++;
	}

	for (let s = 0; s < schools.length; s++) {
		const sc = schools[s];
		for (let i = 0; i < plan.staff.length; i++) {
			const st = plan.staff[i];
			if (st.school !== s) continue;
			if (mut?.staffGone.has(i)) continue;
			writePerson(staffPerson(i, mut?.staffChange.get(i)));
			if (STAFF_IS_ADMIN[st.role]) counts.admins++;
			else counts.staff++;
		}
		for (let t = sc.teacherStart; t < sc.teacherStart + sc.teacherCount; t++) {
			writePerson(teacherPerson(t, mut?.teacherChange.get(t)));
			counts.teachers++;
		}
		await flushFull();

		for (let c = sc.cohortStart; c < sc.cohortEnd; c++) {
			const co = cohorts[c];
			for (let l = 0; l < co.n; l++) {
				const i = co.start + l;
				if (!mut?.studentGone.has(i)) writeStudent(i, co, (k) => sectionOf(co, k, l), '');
				if (plan.familyRoot[i] === i) {
					const children: number[] = [];
					const childSchools: string[] = [];
					let goneChild = false;
					for (let ch = plan.firstChild[i]; ch >= 0; ch = plan.nextChild[ch]) {
						if (mut?.studentGone.has(ch)) {
							goneChild = true;
							continue;
						}
						children.push(ch);
						childSchools.push(schools[cohorts[cohortOf(plan, ch)].school].id);
					}
					writeGuardians(i, children, childSchools, false);
					if (goneChild && children.length > 0)
						for (let k = 0; k < guardianCount(seed, i); k++) contactsWithGoneChild.push(guardianId(i, k));
				}
				if (users.full || enrollments.full || demographics.full || roles?.full) await flushFull();
			}
		}

		// Teacher enrollments of the school's classes.
		const first = sc.cohortStart < sc.cohortEnd ? cohorts[sc.cohortStart].classBase : classes.length;
		const end = sc.cohortEnd < cohorts.length ? cohorts[sc.cohortEnd].classBase : classes.length;
		for (let ci = first; ci < end; ci++) {
			const cls = classes[ci];
			enrollments.line(`enr-${cls.id}-t1,,,${cls.id},${sc.id},${teacherId(cls.teacher)},teacher,true,,\n`);
			if (cls.coTeacher >= 0)
				enrollments.line(`enr-${cls.id}-t2,,,${cls.id},${sc.id},${teacherId(cls.coTeacher)},teacher,false,,\n`);
		}
		await flushFull();
	}

	// Day two: new students (each its own family) at the end.
	if (mut) {
		for (const a of mut.added) {
			const co = cohorts[a.cohort];
			writeStudent(a.index, co, (k) => a.sections[k], '2026-01-21');
			writeGuardians(a.index, [a.index], [schools[co.school].id], true);
			await flushFull();
		}
	}

	counts.users = users.rows;
	counts.enrollments = enrollments.rows;
	if (roles) counts.roles = roles.rows;
	for (const f of files) await f.close();

	const present = new Set([
		'orgs',
		'academicSessions',
		'courses',
		'classes',
		'users',
		'enrollments',
		'demographics',
		...(v12 ? ['roles'] : []),
	]);
	await fs.promises.writeFile(path.join(dir, 'manifest.csv'), manifestCsv(plan.version, present));
	return { counts, goneContacts, addedContacts, contactsWithGoneChild };
}
