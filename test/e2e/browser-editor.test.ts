/**
 * The editor experience in a REAL browser: n8n 2.40.7 (`n8n start`, test/e2e/n8n-harness.ts) serves
 * its editor on 127.0.0.1, and Debian's Chromium (headless, driven by playwright-core) does what an
 * operator does with the shipped template `workflows/nightly-sync-sftp.json`:
 *
 *  1. signs in through n8n's login form and opens the imported template;
 *  2. finds every node of this package on the canvas, each with its own icon and its mode as subtitle,
 *     and the dark icons in n8n's dark theme;
 *  3. opens Roster Build Lists and sees the terms of the last run (with their dates) in the
 *     "Term Names or IDs" picker, filled from the store (`loadOptions`), and picks one; sees the
 *     schools in Roster Normalize's picker and the Archive warning in Roster Reconcile Users;
 *  4. clicks "Execute workflow" and sees the report's summary in the output of Roster Publish Report
 *     and the sent email in the output of the last node (Send Email); the nodes' progress lines
 *     (`this.sendMessageToUI`) arrive in the browser console;
 *  5. puts a wrong host key fingerprint in the SFTP credential and sees its Test name that field.
 *
 * The store has a snapshot before the browser opens Build Lists: the template is first run once
 * with `n8n execute`, as an operator runs it once with Dry run on. The SFTP export comes from a
 * REAL sshd (the Ed-Fi Grand Bend OneRoster 1.1 sample), the email goes to a REAL SMTP server.
 *
 * Screenshots of each step are saved to test-artifacts/browser-editor/ (git-ignored).
 * Chromium: /usr/bin/chromium from Debian's `chromium` package (test/support/system-packages.mjs
 * installs it); the machine has no internet, hence the flags that keep Chromium from calling home.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';

import { simpleParser } from 'mailparser';
import { chromium, type Browser, type ConsoleMessage, type Locator, type Page } from 'playwright-core';

import { EMAIL, INGEST, LISTS, NORMALIZE, RECONCILE, REPORT, expectSucceeded, nodeParameters, setUpSftpTemplate, type SftpTemplate, type WorkflowJson } from '../support/n8n-e2e';
import { REPO_ROOT } from '../support/paths';
import { nodeOutput, randomOwner, signIn, type N8nOwner, type RunningN8n } from './n8n-harness';

const CHROMIUM = '/usr/bin/chromium';
/** Headless, and quiet: no GPU, no QUIC, and none of the background calls an offline machine would refuse. */
const CHROMIUM_ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
];

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts', 'browser-editor');
const PACKAGE_TYPE = /^n8n-nodes-rostersync\./;
const FALL = '2020-2021 Fall Semester (2020-08-17 – 2020-12-18)';

describe('the n8n editor in a real browser (Chromium): the template on the canvas, pickers from the store, Execute workflow', () => {
	let e2e: SftpTemplate;
	let server: RunningN8n;
	let owner: N8nOwner;
	let browser: Browser;
	let page: Page;
	let workflow: WorkflowJson;
	let firstRunSubject: string;
	let firstRunId: string;
	const consoleLines: string[] = [];
	const timings: string[] = [];
	let step = 0;

	const timed = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
		const started = Date.now();
		try {
			return await work();
		} finally {
			timings.push(`${label} ${Date.now() - started} ms`);
		}
	};

	/** Saves a screenshot as test-artifacts/browser-editor/NN-name.png. */
	const screenshot = async (name: string) => {
		step++;
		await page.screenshot({ path: path.join(ARTIFACTS, `${String(step).padStart(2, '0')}-${name}.png`) });
	};

	/** Polls `condition` (every 100 ms, up to `timeoutMs`). */
	async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
		const deadline = Date.now() + timeoutMs;
		while (!(await condition())) {
			if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
	}

	const canvasNode = (name: string): Locator => page.locator(`[data-test-id="canvas-node"][data-node-name="${name}"]`);
	const ndv = (): Locator => page.locator('[data-test-id="ndv"]');
	const parameter = (name: string): Locator => ndv().locator(`[data-test-id="parameter-input-${name}"]`);

	/** Signs in through the login form (unless signed in) and opens the template on the canvas. */
	async function openTemplate(): Promise<void> {
		if (page.url().includes(`/workflow/${workflow.id}`)) return;
		await page.goto(`${server.url}/signin`);
		await page.locator('[data-test-id="emailOrLdapLoginId"] input').fill(owner.email);
		await page.locator('[data-test-id="password"] input').fill(owner.password);
		await page.locator('[data-test-id="form-submit-button"]').click();
		await page.waitForURL((url) => !url.pathname.startsWith('/signin'));
		await page.goto(`${server.url}/workflow/${workflow.id}`);
		await page.locator('[data-test-id="canvas-node"]').first().waitFor({ state: 'visible' });
	}

	async function openNode(name: string): Promise<void> {
		await canvasNode(name).dblclick();
		await ndv().waitFor({ state: 'visible' });
		await ndv().locator('[data-test-id="node-parameters"]').waitFor({ state: 'visible' });
	}

	async function closeNode(): Promise<void> {
		await ndv().locator('[data-test-id="ndv-close-button"]').click();
		await ndv().waitFor({ state: 'hidden' });
	}

	/** After a failed test: no dropdown and no node panel left open for the next one. */
	async function backToCanvas(): Promise<void> {
		if (!page) return;
		await page.keyboard.press('Escape').catch(() => undefined);
		if (await ndv().isVisible().catch(() => false)) await closeNode().catch(() => undefined);
	}

	/** Turns a boolean parameter's switch on or off (only when it is not so already). */
	async function setSwitch(name: string, on: boolean): Promise<void> {
		const toggle = parameter(name).locator('.el-switch');
		await toggle.waitFor({ state: 'visible' });
		const isOn = /\bis-checked\b/.test((await toggle.getAttribute('class')) ?? '');
		if (isOn !== on) await toggle.click();
		await waitUntil(async () => /\bis-checked\b/.test((await toggle.getAttribute('class')) ?? '') === on, `switch ${name} ${on ? 'on' : 'off'}`);
	}

	/**
	 * Opens a (multi-)options picker once its options are loaded: its options' headlines, the
	 * options, and how to close it again.
	 */
	async function openPicker(name: string): Promise<{ headlines: string[]; options: Locator; close(): Promise<void> }> {
		// Disabled while n8n asks the node's loadOptions method (POST /rest/dynamic-node-parameters/options).
		const select = parameter(name).locator('.el-select:not(.el-select--disabled)');
		await select.waitFor({ state: 'visible' });
		const listId = await parameter(name).locator('input[role="combobox"]').first().getAttribute('aria-controls');
		const list = page.locator(`[id="${listId}"]`);
		await select.click();
		const options = list.locator('[role="option"]');
		await options.first().waitFor({ state: 'visible' });
		const close = async () => {
			await select.click(); // the trigger toggles the list
			await list.waitFor({ state: 'hidden', timeout: 5_000 });
		};
		return { headlines: await options.locator('.option-headline').allTextContents(), options, close };
	}

	beforeAll(async () => {
		if (!existsSync(CHROMIUM)) {
			throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (npm test does it when run as root: node test/support/system-packages.mjs)`);
		}
		await fs.rm(ARTIFACTS, { recursive: true, force: true });
		await fs.mkdir(ARTIFACTS, { recursive: true });

		e2e = await timed('n8n install check, package build, sshd, SMTP, n8n import:credentials', () => setUpSftpTemplate());
		workflow = e2e.workflow;
		// What the operator fills in before the first run: where the export is (setUpSftpTemplate() set it), who gets the report.
		nodeParameters(workflow, EMAIL).toEmail = 'ops@district.example.org';
		await timed('n8n import:workflow', () => e2e.importWorkflow(workflow));

		// The first run (Dry run on, as shipped), so that the store has a snapshot to pick terms from.
		const first = await timed('n8n execute (first run)', () => e2e.execute(workflow.id));
		expectSucceeded(first, 'the first run');
		firstRunSubject = String(nodeOutput(first.run, REPORT)[0].subject);
		firstRunId = String(nodeOutput(first.run, REPORT)[0].runId);

		server = await timed('n8n start', () => e2e.start());
		owner = randomOwner();
		await signIn(server, owner); // sets the owner up (REST); the browser signs in through the form

		browser = await timed('chromium launch', () => chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 }));
		const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
		context.setDefaultTimeout(30_000);
		page = await context.newPage();
		page.on('console', (message: ConsoleMessage) => consoleLines.push(message.text()));
	}, 25 * 60_000);

	afterEach(async () => {
		await backToCanvas();
	});

	afterAll(async () => {
		await page?.close({ runBeforeUnload: true }).catch(() => undefined);
		await browser?.close();
		await server?.stop();
		await e2e?.close();
		process.stderr.write(`[e2e browser] ${timings.join('; ')}\n`);
	});

	it('signs in through n8n’s login form and opens the imported template', async () => {
		await timed('sign in + open template', () => openTemplate());
		await expect(page.locator('[data-test-id="workflow-name-input"]').textContent()).resolves.toContain(workflow.name);
		await screenshot('template-on-canvas');
	});

	it('shows every node of the package on the canvas, each with its own icon and its mode as subtitle', async () => {
		const packageNodes = workflow.nodes.filter((node) => PACKAGE_TYPE.test(node.type));
		expect(packageNodes.map((node) => node.name)).toEqual(expect.arrayContaining([INGEST, NORMALIZE, RECONCILE, LISTS, REPORT]));
		const icons = new Set<string>();
		for (const node of packageNodes) {
			const onCanvas = canvasNode(node.name);
			await expect(onCanvas.getAttribute('data-node-type')).resolves.toBe(node.type);
			await onCanvas.waitFor({ state: 'visible' });
			const icon = onCanvas.locator('img').first();
			const src = String(await icon.getAttribute('src'));
			expect(src).toMatch(/n8n-nodes-rostersync.*\.svg/);
			// The icon file was served and drawn.
			await waitUntil(
				() => icon.evaluate((element) => (element as unknown as { complete: boolean; naturalWidth: number }).complete && (element as unknown as { naturalWidth: number }).naturalWidth > 0),
				`the icon of ${node.name} drawn`,
			);
			icons.add(src.replace(/\?.*$/, ''));
		}
		// Two instances of one node type share its icon; different types never do.
		expect(icons.size).toBe(new Set(packageNodes.map((node) => node.type)).size);
		await expect(canvasNode(INGEST).textContent()).resolves.toContain('from SFTP: ');
		await expect(canvasNode(NORMALIZE).textContent()).resolves.toContain('all schools');
		await expect(canvasNode(RECONCILE).textContent()).resolves.toMatch(/Dry run · students, teachers, staff, admins/);
		await expect(canvasNode(LISTS).textContent()).resolves.toContain('no class rosters');
		await expect(canvasNode(REPORT).textContent()).resolves.toContain('Results report');
	});

	it('in n8n’s dark theme, the canvas shows the nodes’ dark icons', async () => {
		const iconOf = (name: string) => canvasNode(name).locator('img').first();
		const names = [INGEST, NORMALIZE, RECONCILE, LISTS, REPORT];
		await page.emulateMedia({ colorScheme: 'dark' }); // n8n's theme follows the system's unless set
		try {
			for (const name of names) {
				await waitUntil(async () => /\.dark\.svg/.test(String(await iconOf(name).getAttribute('src'))), `the dark icon of ${name}`);
			}
			await screenshot('template-on-canvas-dark');
		} finally {
			await page.emulateMedia({ colorScheme: 'light' });
		}
		for (const name of names) {
			await waitUntil(async () => !/\.dark\.svg/.test(String(await iconOf(name).getAttribute('src'))), `the light icon of ${name}`);
		}
	});

	it('Build Lists: the terms of the last run, with their dates, in the picker (loadOptions from the store)', async () => {
		await openNode(LISTS);
		const docs = await ndv().locator('a[href*="github.com/rostersync/n8n-nodes-rostersync#"]').first().getAttribute('href');
		expect(docs).toBe('https://github.com/rostersync/n8n-nodes-rostersync#roster-build-lists'); // the README section, as it is
		await setSwitch('syncClassRosters', true);
		const terms = await timed('term picker loaded', () => openPicker('terms'));
		expect(terms.headlines).toEqual([
			'2020-2021 Spring Semester (2021-01-04 – 2021-05-28)',
			FALL,
			'2020-2021 School Year (2020-08-17 – 2021-05-28)',
		]);
		await screenshot('build-lists-term-picker');
		await terms.options.filter({ hasText: FALL }).click();
		await terms.close();
		expect(await parameter('terms').locator('.el-tag').allTextContents()).toEqual([expect.stringContaining('2020-2021 Fall Semester')]);
		const grades = await openPicker('grades');
		expect(grades.headlines).toEqual(['09']);
		await grades.close();
		await screenshot('build-lists-fall-term-picked');
		await closeNode();
		await expect(canvasNode(LISTS).textContent()).resolves.toContain('class rosters · 1 term(s)');
	});

	it('Normalize: the schools of the last run in the School picker', async () => {
		await openNode(NORMALIZE);
		const schools = await openPicker('schoolIds');
		expect(schools.headlines).toEqual(['Grand Bend High School (255901001)']);
		await screenshot('normalize-school-picker');
		await schools.close();
		await expect(ndv().textContent()).resolves.toContain('Before the first run, use an expression');
		await closeNode();
	});

	it('Reconcile Users: turning Archive on shows its warning', async () => {
		await openNode(RECONCILE);
		expect(await ndv().getByText('Archive is on:', { exact: false }).count()).toBe(0);
		await setSwitch('archive', true);
		await ndv().getByText('Archive is on:', { exact: false }).waitFor({ state: 'visible' });
		await screenshot('reconcile-archive-warning');
		await setSwitch('archive', false); // the test run stays as shipped: Dry run on, Archive off
		await closeNode();
	});

	it('"Execute workflow" runs the template; the report’s summary is in the output, the email in the last node’s', async () => {
		const button = page.locator('[data-test-id="execute-workflow-button"]');
		// n8n's editor starts a manual run from the trigger it ranks first (here the schedule, which then
		// fires once at once), as an operator's click does.
		await expect(button.textContent()).resolves.toMatch(/^Execute workflow/);
		await timed('Execute workflow (click to all nodes green)', async () => {
			await button.click();
			await canvasNode(EMAIL).locator('[data-test-id="canvas-node-status-success"]').waitFor({ state: 'visible', timeout: 90_000 });
		});
		for (const name of [INGEST, NORMALIZE, RECONCILE, LISTS, REPORT]) {
			await expect(canvasNode(name).locator('[data-test-id="canvas-node-status-success"]').count()).resolves.toBe(1);
		}
		await screenshot('executed-all-green');

		await openNode(REPORT);
		const output = ndv().locator('[data-test-id="output-panel"]');
		await output.locator('[data-test-id="radio-button-json"]').click();
		const data = output.locator('[data-test-id="ndv-data-container"]');
		await data.getByText(firstRunSubject, { exact: false }).first().waitFor({ state: 'visible' });
		const shown = (await data.textContent()) ?? '';
		expect(shown).toContain(`"subject": "${firstRunSubject}"`);
		expect(shown).toContain('"stage": "reported"');
		const runId = /"runId": "([^"]+)"/.exec(shown)?.[1];
		expect(runId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/);
		expect(runId).not.toBe(firstRunId); // a new run, started from the browser
		await screenshot('report-summary-in-output');
		await closeNode();

		await openNode(EMAIL);
		const emailOutput = ndv().locator('[data-test-id="output-panel"]');
		await emailOutput.locator('[data-test-id="radio-button-json"]').click();
		await emailOutput.getByText('ops@district.example.org', { exact: false }).first().waitFor({ state: 'visible' });
		await screenshot('last-node-email-sent');
		await closeNode();

		const mails = await e2e.smtp.waitForMessages(2, 30_000); // the `n8n execute` run's and the browser run's
		expect((await simpleParser(mails[1])).subject).toBe(firstRunSubject);
	});

	it('the nodes’ progress lines reached the browser (manual-run UI messages)', async () => {
		await fs.writeFile(path.join(ARTIFACTS, 'browser-console.txt'), `${consoleLines.join('\n')}\n`);
		// n8n prints this.sendMessageToUI(…) to the browser console during a manual run, as `[Node: "<name>"] …`.
		const told = (node: string, pattern: RegExp) => consoleLines.some((line) => line.startsWith(`[Node: "${node}"] `) && pattern.test(line));
		expect(told(INGEST, /users\.csv: 10 rows staged \(done\)$/)).toBe(true);
		expect(told(INGEST, /run \S+: staged 51 rows from 7 files \(0 rows skipped\) in \d+\.\d s$/)).toBe(true);
		// (Normalize reads no rows here: the export is the first run's, so its snapshot is reused.)
		expect(told(NORMALIZE, /run \S+: 10 people, 2 classes, 24 enrollments in 1 school\(s\) in \d+\.\d s$/)).toBe(true);
		expect(told(REPORT, /run \S+: reported \(completed\) in \d+\.\d s$/)).toBe(true);
	});
	it('the SFTP credential’s Test names the wrong field (Host Key Fingerprint)', async () => {
		await openTemplate();
		await openNode(INGEST);
		await ndv().locator('[data-test-id="node-credentials-select"]').first().waitFor({ state: 'visible' });
		await ndv().locator('[data-test-id="credential-edit-button"]').first().click();
		const dialog = page.locator('[data-test-id="credential-edit-dialog"]');
		await dialog.waitFor({ state: 'visible' });
		const fingerprint = dialog.locator('[data-test-id="parameter-input-hostKeyFingerprint"] input');
		await fingerprint.waitFor({ state: 'visible' });
		// Another server's key: what an operator sees when the server was rebuilt, or someone is in between.
		await fingerprint.fill('SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
		await fingerprint.press('Tab'); // the form takes a value when the field loses focus
		const save = page.locator('[data-test-id="credential-save-button"]');
		await waitUntil(async () => (await save.textContent())?.trim() === 'Save', 'the Save button (unsaved changes)');
		// The modal's header (with Save) and its test banner are siblings of the form, not inside it.
		/** On a wait that times out: a screenshot and the dialog's elements, in the artifacts, then the error. */
		const diagnosed = (what: string) => async (error: unknown) => {
			await page.screenshot({ path: path.join(ARTIFACTS, `failed-credential-test-${what}.png`) });
			const ids = await page.locator('[data-test-id="credential-edit-dialog"] [data-test-id]').evaluateAll((els) =>
				els.map((el) => `${el.getAttribute('data-test-id')} ${(el as unknown as { value?: string }).value ?? ''}`),
			);
			await fs.writeFile(path.join(ARTIFACTS, `failed-credential-test-${what}.txt`), `${ids.join('\n')}\n${await fingerprint.inputValue()}\n`);
			throw error;
		};
		await save.click();
		await page
			.getByText('Couldn’t connect with these settings', { exact: false })
			.or(page.getByText("Couldn't connect with these settings", { exact: false }))
			.first()
			.waitFor({ state: 'visible', timeout: 30_000 })
			.catch(diagnosed('banner'));
		await page.getByText('More details', { exact: true }).first().click(); // the banner shows the test's message
		const banner = page.getByText('Check Host Key Fingerprint: ', { exact: false }).first();
		await banner.waitFor({ state: 'visible', timeout: 30_000 }).catch(diagnosed('message'));
		const text = (await banner.textContent()) ?? '';
		expect(text).toContain(`the SFTP server 127.0.0.1:${e2e.sshd.port} presented a host key that does not match: expected SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA, received ${e2e.sshd.hostKeyFingerprint}`);
		expect(text).not.toContain(e2e.sshd.password);
		await screenshot('sftp-credential-test-names-the-field');
	});
});
