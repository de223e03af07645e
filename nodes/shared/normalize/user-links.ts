/**
 * A night's users rows as numbers: in file order, what each row made (nothing, a person of a role, a contact of a
 * relationship), the users it lists (agentSourcedIds) and where it sits in its file's base staging. Normalize
 * decides every student's primary contact from it (primaryContactOf), and a bulk night keeps it with its snapshot
 * (store/user-links.ts): the next night, when its users file is a patch over the same base, carries the rows both
 * files share from it instead of reading them (normalize.ts, carryUsers).
 */
import type { ContactRelationship, PersonRole } from '../model/roster';
import { CONTACT_RELATIONSHIPS, PERSON_ROLES } from '../model/roster';
import { doubled } from '../store/off-heap-strings';
import { base64Of, typedArrayOf } from '../store/sql';

/** What a users row made: a person's role, a contact's relationship, or undefined (nothing: a problem, or a deletion). */
export type UserMade = PersonRole | ContactRelationship | undefined;

/** Kind codes: 0 nothing; a person's role is PERSON_ROLES' index + 1; a contact's relationship CONTACT_RELATIONSHIPS' index + CONTACT_KIND. */
const NOTHING = 0;
const CONTACT_KIND = 16;
const kindOf = (made: UserMade): number => {
	if (made === undefined) return NOTHING;
	const role = (PERSON_ROLES as readonly string[]).indexOf(made);
	if (role >= 0) return role + 1;
	return CONTACT_KIND + (CONTACT_RELATIONSHIPS as readonly string[]).indexOf(made);
};
const madeOf = (kind: number): UserMade =>
	kind === NOTHING ? undefined : kind >= CONTACT_KIND ? CONTACT_RELATIONSHIPS[kind - CONTACT_KIND] : PERSON_ROLES[kind - 1];
const isContactKind = (kind: number): boolean => kind >= CONTACT_KIND;
const isPersonKind = (kind: number): boolean => kind !== NOTHING && kind < CONTACT_KIND;
const STUDENT_KIND = kindOf('student');

/** Past this, a sliced string keeps its whole parent alive (see detached in normalize.ts): ids kept are copied. */
const ownString = (text: string): string => (text.length < 13 ? text : (JSON.parse(JSON.stringify(text)) as string));

/** Builds a night's UserLinks row by row, in file order. */
export class UserLinksBuilder {
	private readonly ids: string[] = [];
	private readonly index = new Map<string, number>();
	private rowId = new Int32Array(1024);
	private kind = new Uint8Array(1024);
	private ordinal = new Int32Array(1024);
	private agentEnd = new Int32Array(1024);
	private agents = new Int32Array(2048);
	private agentCount = 0;
	private rows = 0;
	/** The earlier links rows are carried from, and its id numbers as this night's (-1: not yet looked up). */
	private carriedFrom?: { links: UserLinks; ids: Int32Array };

	/** `baseRunId`: the run whose staging is the base of the file's rows (its own, when staged whole); undefined when not known. */
	constructor(readonly baseRunId: string | undefined) {}

	private idOf(sourcedId: string): number {
		let id = this.index.get(sourcedId);
		if (id === undefined) {
			const own = ownString(sourcedId);
			id = this.ids.push(own) - 1;
			this.index.set(own, id);
		}
		return id;
	}

	private nextRow(id: number, kind: number, ordinal: number): number {
		const row = this.rows++;
		if (row >= this.rowId.length) {
			this.rowId = doubled(this.rowId, Int32Array);
			this.kind = doubled(this.kind, Uint8Array);
			this.ordinal = doubled(this.ordinal, Int32Array);
			this.agentEnd = doubled(this.agentEnd, Int32Array);
		}
		this.rowId[row] = id;
		this.kind[row] = kind;
		this.ordinal[row] = ordinal;
		return row;
	}

	private addAgent(id: number): void {
		if (this.agentCount >= this.agents.length) this.agents = doubled(this.agents, Int32Array);
		this.agents[this.agentCount++] = id;
	}

	/**
	 * A row read tonight: its sourcedId, what it made, its agentSourcedIds cell (the items of a comma-separated list,
	 * trimmed, empty ones left out), and its ordinal in the base staging (-1: a row of the file's own, or unknown).
	 */
	add(sourcedId: string, made: UserMade, agents: string, ordinal: number): void {
		const row = this.nextRow(this.idOf(sourcedId), kindOf(made), ordinal);
		for (let start = 0; start < agents.length; ) {
			let end = agents.indexOf(',', start);
			if (end === -1) end = agents.length;
			const item = agents.slice(start, end).trim();
			if (item !== '') this.addAgent(this.idOf(item));
			start = end + 1;
		}
		this.agentEnd[row] = this.agentCount;
	}

	/** Row `row` of an earlier night's links, the very same row tonight (the same base row, at `ordinal`). */
	carry(earlier: UserLinks, row: number, ordinal: number): void {
		if (this.carriedFrom?.links !== earlier) this.carriedFrom = { links: earlier, ids: new Int32Array(earlier.ids.length).fill(-1) };
		const { ids } = this.carriedFrom;
		const added = this.nextRow(this.carriedId(earlier, ids, earlier.rowId[row]), earlier.kind[row], ordinal);
		for (let a = row === 0 ? 0 : earlier.agentEnd[row - 1]; a < earlier.agentEnd[row]; a++) this.addAgent(this.carriedId(earlier, ids, earlier.agents[a]));
		this.agentEnd[added] = this.agentCount;
	}

	/** This night's number of the earlier links' id number `id` (`ids`: those looked up so far, -1 for the others). */
	private carriedId(earlier: UserLinks, ids: Int32Array, id: number): number {
		const known = ids[id];
		return known >= 0 ? known : (ids[id] = this.idOf(earlier.ids[id]));
	}

	/**
	 * The links; the builder is done with. `bySourcedId`: whether they will be asked by sourcedId (rowOf and what uses it):
	 * they then keep the builder's index of ids, else it is let go (made again if asked all the same).
	 */
	finish(bySourcedId: boolean): UserLinks {
		const n = this.rows;
		const index = bySourcedId ? this.index : undefined;
		if (!bySourcedId) this.index.clear();
		this.carriedFrom = undefined;
		return new UserLinks(
			this.ids,
			this.rowId.slice(0, n),
			this.kind.slice(0, n),
			this.ordinal.slice(0, n),
			this.agentEnd.slice(0, n),
			this.agents.slice(0, this.agentCount),
			this.baseRunId,
			index,
		);
	}
}

/** What UserLinks keeps in the store (store/user-links.ts): JSON of its ids and its arrays' bytes as base64. */
const STORED_VERSION = 1;

/** A night's users rows as numbers (see the top of this file); made by UserLinksBuilder, or read back (UserLinks.fromStored). */
export class UserLinks {
	/** For each id, the last row with it (-1: none, an id only listed as someone's agent). */
	private rowOfId?: Int32Array;
	/** Who is a contact (1), by id, and the first contact row (in file order) that lists each id: set by decideContacts. */
	private contact?: Uint8Array;
	private lister?: Int32Array;
	private isContact?: (sourcedId: string) => boolean;

	constructor(
		/** The sourcedIds the rows have or list, by number. */
		readonly ids: string[],
		/** Per row, in file order: its sourcedId's number, what it made (kind), its base ordinal, where its agents end in `agents`. */
		readonly rowId: Int32Array,
		readonly kind: Uint8Array,
		readonly ordinal: Int32Array,
		readonly agentEnd: Int32Array,
		readonly agents: Int32Array,
		readonly baseRunId: string | undefined,
		private index?: Map<string, number>,
	) {}

	get rows(): number {
		return this.rowId.length;
	}

	private idNumber(sourcedId: string): number {
		if (!this.index) {
			this.index = new Map();
			for (let id = 0; id < this.ids.length; id++) this.index.set(this.ids[id], id);
		}
		return this.index.get(sourcedId) ?? -1;
	}

	/** The last row with this sourcedId (-1: none). */
	rowOf(sourcedId: string): number {
		return this.rowOfNumber(this.idNumber(sourcedId));
	}

	/** The last row with the id of this number (-1: none, or no id: -1). */
	private rowOfNumber(id: number): number {
		if (id < 0) return -1;
		if (!this.rowOfId) {
			this.rowOfId = new Int32Array(this.ids.length).fill(-1);
			for (let row = 0; row < this.rows; row++) this.rowOfId[this.rowId[row]] = row;
		}
		return this.rowOfId[id];
	}

	madeAt(row: number): UserMade {
		return madeOf(this.kind[row]);
	}

	isPersonAt(row: number): boolean {
		return isPersonKind(this.kind[row]);
	}

	isStudentAt(row: number): boolean {
		return this.kind[row] === STUDENT_KIND;
	}

	sourcedIdAt(row: number): string {
		return this.ids[this.rowId[row]];
	}

	/** What the row with this sourcedId made (undefined: no row, or nothing). */
	made(sourcedId: string): UserMade {
		const row = this.rowOf(sourcedId);
		return row < 0 ? undefined : this.madeAt(row);
	}

	/** Whether the row with this sourcedId made a person. */
	isPerson(sourcedId: string): boolean {
		const row = this.rowOf(sourcedId);
		return row >= 0 && this.isPersonAt(row);
	}

	/** The relationship of the contact the row with this sourcedId made (undefined: it made no contact, or there is none). */
	relationshipOf(sourcedId: string): ContactRelationship | undefined {
		const row = this.rowOf(sourcedId);
		return row >= 0 && isContactKind(this.kind[row]) ? CONTACT_RELATIONSHIPS[this.kind[row] - CONTACT_KIND] : undefined;
	}

	/**
	 * Settles who is a contact for primaryContactOf: the users whose row made a contact, or, given `isContact`, those
	 * it says (a delta night's: the previous snapshot's contacts too). Then, for each user, the first contact row in
	 * file order that lists them.
	 */
	decideContacts(isContact?: (sourcedId: string) => boolean): void {
		const contact = new Uint8Array(this.ids.length);
		if (isContact) {
			for (let id = 0; id < this.ids.length; id++) contact[id] = isContact(this.ids[id]) ? 1 : 0;
		} else {
			for (let row = 0; row < this.rows; row++) if (isContactKind(this.kind[row])) contact[this.rowId[row]] = 1;
		}
		const lister = new Int32Array(this.ids.length).fill(-1);
		for (let row = 0, a = 0; row < this.rows; row++) {
			const end = this.agentEnd[row];
			if (contact[this.rowId[row]] === 1) for (; a < end; a++) if (lister[this.agents[a]] < 0) lister[this.agents[a]] = this.rowId[row];
			a = end;
		}
		this.contact = contact;
		this.lister = lister;
		this.isContact = isContact;
	}

	/**
	 * The primary contact of the student whose row is `row`, as an id number (-1: none): the first user its row lists
	 * who is a contact; else the first contact row that lists it. decideContacts first.
	 */
	primaryContactAt(row: number): number {
		const contact = this.contact as Uint8Array;
		for (let a = row === 0 ? 0 : this.agentEnd[row - 1]; a < this.agentEnd[row]; a++) if (contact[this.agents[a]] === 1) return this.agents[a];
		return (this.lister as Int32Array)[this.rowId[row]];
	}

	/**
	 * A student's primary contact: its own first listed contact; else the first contact that lists the student (in
	 * file order); else `had` (a delta night's previous one) while still a contact. decideContacts first.
	 */
	primaryContactOf(studentId: string, had: string | null): string | null {
		const id = this.idNumber(studentId);
		const row = this.rowOfNumber(id);
		const contact = row >= 0 ? this.primaryContactAt(row) : id >= 0 ? (this.lister as Int32Array)[id] : -1;
		if (contact >= 0) return this.ids[contact];
		return had !== null && this.isContactNow(had) ? had : null;
	}

	/** Whether the user is a contact, as decideContacts settled it. */
	private isContactNow(sourcedId: string): boolean {
		if (this.isContact) return this.isContact(sourcedId);
		const id = this.idNumber(sourcedId);
		return id >= 0 && (this.contact as Uint8Array)[id] === 1;
	}

	/** The links as the store keeps them (fromStored reads them back). */
	toStored(): string {
		return JSON.stringify({
			version: STORED_VERSION,
			ids: this.ids,
			rowId: base64Of(this.rowId),
			kind: base64Of(this.kind),
			ordinal: base64Of(this.ordinal),
			agentEnd: base64Of(this.agentEnd),
			agents: base64Of(this.agents),
		});
	}

	/** Links toStored wrote (undefined: another version's). */
	static fromStored(text: string, baseRunId: string): UserLinks | undefined {
		const stored = JSON.parse(text) as { version: number; ids: string[]; rowId: string; kind: string; ordinal: string; agentEnd: string; agents: string };
		if (stored.version !== STORED_VERSION) return undefined;
		return new UserLinks(
			stored.ids,
			typedArrayOf(stored.rowId, Int32Array),
			typedArrayOf(stored.kind, Uint8Array),
			typedArrayOf(stored.ordinal, Int32Array),
			typedArrayOf(stored.agentEnd, Int32Array),
			typedArrayOf(stored.agents, Int32Array),
			baseRunId,
		);
	}
}
