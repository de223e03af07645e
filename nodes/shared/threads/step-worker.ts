/**
 * The step thread's entry (see step-thread.ts): runs the step it is given and ends with its result or its error.
 */
import { parentPort, workerData } from 'node:worker_threads';

import type { StepMessage, StepTask } from './step-thread';
import { errorToData, runStep } from './step-thread';

const port = parentPort;
if (port) {
	const send = (message: StepMessage) => port.postMessage(message);
	runStep(workerData as StepTask).then(
		(result) => send({ result }),
		(error: unknown) => send({ error: errorToData(error) }),
	);
}
