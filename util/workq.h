/*
 * workq.h - a pool of worker threads for work that may block (fsync,
 * DNS, heavy scanning), so the event loops never wait.
 *
 * pst_workq_submit() is called on an event loop thread; work(arg) runs on
 * a worker; done(arg) then runs on the submitting event_base's thread.
 * Thread-safe.  Requires evthread_use_pthreads() before any event_base.
 */
#ifndef PST_WORKQ_H
#define PST_WORKQ_H

struct event_base;
struct pst_workq;

typedef void pst_work_fn(void *arg);

struct pst_workq *pst_workq_new(unsigned threads);
/* Finish queued jobs (their done callbacks are not run), join, free. */
void pst_workq_free(struct pst_workq **wq_p);

/* 0, or -1 when out of memory or the pool is stopping. */
int pst_workq_submit(struct pst_workq *wq, struct event_base *base,
		     pst_work_fn *work, pst_work_fn *done, void *arg);

#endif
