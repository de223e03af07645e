/** The pure lists planner, without a store. */
import { classListTitle, gradeKey, gradeTitle, selectClasses } from '../../../nodes/shared/lists/plan';
import { listSettings } from '../../../nodes/shared/lists/settings';
import { day2, klass } from '../../support/roster-fixtures';

test('grades: 9 and 09 are one grade, letters without case', () => {
	expect(gradeKey('9')).toBe('09');
	expect(gradeKey(' 09 ')).toBe('09');
	expect(gradeKey('kg')).toBe('KG');
	expect(gradeTitle('09')).toBe('Grade 9');
	expect(gradeTitle('KG')).toBe('Kindergarten');
});

test('class list titles tell sections apart by code and period', () => {
	expect(classListTitle(klass('c', 'Algebra I', [], { classCode: 'ALG1-01', periods: '3' }))).toBe('Algebra I (ALG1-01, Period 3)');
	expect(classListTitle(klass('c', 'ALG1-01 Algebra', [], { classCode: 'ALG1-01' }))).toBe('ALG1-01 Algebra');
	expect(classListTitle(klass('c', 'Homeroom', []))).toBe('Homeroom');
});

test('term selection: by sourcedId or title; a selected parent term takes its children’s classes', () => {
	const { terms, classes, courses } = day2();
	const pick = (settings: Parameters<typeof listSettings>[0]) => [...selectClasses(listSettings(settings), terms, classes, courses).classListClasses].sort();
	expect(pick({ syncClassRosters: true, terms: ['fall'] })).toEqual(['cls-alg', 'cls-eng']);
	expect(pick({ syncClassRosters: true, terms: ['spring 2027'] })).toEqual(['cls-art']);
	expect(pick({ syncClassRosters: true, terms: ['y2027'] })).toEqual(['cls-alg', 'cls-art', 'cls-eng']);
	expect(pick({ syncClassRosters: true, terms: ['y2027'], grades: ['10'] })).toEqual(['cls-art']);
	expect(pick({ syncClassRosters: false, terms: ['y2027'] })).toEqual([]);
	const unknown = selectClasses(listSettings({ syncClassRosters: true, terms: ['Winter'] }), terms, classes, courses);
	expect(unknown.classListsOn).toBe(false);
	expect(unknown.warnings).toEqual(['term "Winter" is not in the roster', 'none of the selected terms is in the roster: class lists were left as they are']);
});
