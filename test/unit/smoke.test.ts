import { describeLocation } from '../../nodes/shared/model/errors';

test('describeLocation names file, row and field', () => {
	expect(describeLocation({ file: 'users.csv', row: 3, field: 'role' })).toBe('users.csv, row 3, field "role"');
});
