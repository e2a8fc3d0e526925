/** Whether this process makes delivery attempts itself (DELIVERY_WORKER=on, or a worker process). */
export const THIS_PROCESS_DELIVERS = Symbol('THIS_PROCESS_DELIVERS');
