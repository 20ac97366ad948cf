/*
 * workq.c - a pool of worker threads whose results come back to the
 * submitting event loop (see workq.h).
 *
 * Each job carries an event of its submitter's event_base.  A worker runs
 * work(arg), then activates that event (libevent makes event_active()
 * safe from other threads once evthread_use_pthreads() was called), so
 * done(arg) runs on the loop thread, which also frees the job.  The pool
 * keeps every job it owns on a list so that pst_workq_free() can release
 * the ones whose done callback never ran.  Call pst_workq_free() before
 * freeing the event bases its jobs point at.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

#include <event2/event.h>

#include "workq.h"

struct workq_job {
	struct workq_job *qnext;       /* run queue */
	struct workq_job *prev, *next; /* every job not yet finished */
	struct pst_workq *wq;
	struct event *ev;
	pst_work_fn *work;
	pst_work_fn *done;
	void *arg;
	bool orphaned; /* the pool is freeing it: done must not run */
};

struct pst_workq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct workq_job *qhead, *qtail;
	struct workq_job *live;
	bool stopping;
	unsigned nthreads;
	pthread_t *threads;
};

/* Both with wq->mu held. */
static void
workq_live_add(struct pst_workq *wq, struct workq_job *job)
{
	job->prev = NULL;
	job->next = wq->live;
	if (wq->live != NULL)
		wq->live->prev = job;
	wq->live = job;
}

static void
workq_live_remove(struct pst_workq *wq, struct workq_job *job)
{
	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		wq->live = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	job->prev = job->next = NULL;
}

static void *
workq_thread(void *ctx)
{
	struct pst_workq *wq = ctx;

	for (;;) {
		struct workq_job *job;

		pthread_mutex_lock(&wq->mu);
		while (wq->qhead == NULL && !wq->stopping)
			pthread_cond_wait(&wq->cv, &wq->mu);
		job = wq->qhead;
		if (job == NULL) {
			/* Stopping and nothing left to do. */
			pthread_mutex_unlock(&wq->mu);
			return NULL;
		}
		wq->qhead = job->qnext;
		if (wq->qhead == NULL)
			wq->qtail = NULL;
		pthread_mutex_unlock(&wq->mu);

		job->work(job->arg);
		/* From here on the loop thread may free job at any moment. */
		event_active(job->ev, 0, 0);
	}
}

/* On the loop thread of the submitting base. */
static void
workq_job_done(evutil_socket_t fd, short what, void *ctx)
{
	struct workq_job *job = ctx;
	struct pst_workq *wq = job->wq;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&wq->mu);
	if (job->orphaned) {
		/* pst_workq_free() on another thread owns it now. */
		pthread_mutex_unlock(&wq->mu);
		return;
	}
	workq_live_remove(wq, job);
	pthread_mutex_unlock(&wq->mu);

	job->done(job->arg);
	event_free(job->ev);
	free(job);
}

struct pst_workq *
pst_workq_new(unsigned threads)
{
	struct pst_workq *wq;
	sigset_t all, old;

	if (threads == 0)
		threads = 1;
	wq = calloc(1, sizeof(*wq));
	if (wq == NULL)
		return NULL;
	wq->threads = calloc(threads, sizeof(*wq->threads));
	if (wq->threads == NULL || pthread_mutex_init(&wq->mu, NULL) != 0) {
		free(wq->threads);
		free(wq);
		return NULL;
	}
	if (pthread_cond_init(&wq->cv, NULL) != 0) {
		pthread_mutex_destroy(&wq->mu);
		free(wq->threads);
		free(wq);
		return NULL;
	}
	/* Workers inherit a full signal mask: signals belong to the loops. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (wq->nthreads = 0; wq->nthreads < threads; wq->nthreads++) {
		if (pthread_create(&wq->threads[wq->nthreads], NULL,
				   workq_thread, wq) != 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (wq->nthreads < threads) {
		pst_workq_free(&wq);
		return NULL;
	}
	return wq;
}

void
pst_workq_free(struct pst_workq **wq_p)
{
	struct pst_workq *wq;
	struct workq_job *job, *orphans;

	if (wq_p == NULL || *wq_p == NULL)
		return;
	wq = *wq_p;
	*wq_p = NULL;

	pthread_mutex_lock(&wq->mu);
	wq->stopping = true;
	pthread_cond_broadcast(&wq->cv);
	pthread_mutex_unlock(&wq->mu);
	for (unsigned i = 0; i < wq->nthreads; i++)
		pthread_join(wq->threads[i], NULL);

	/* Whatever is still listed ran but was not delivered. */
	pthread_mutex_lock(&wq->mu);
	orphans = wq->live;
	wq->live = NULL;
	for (job = orphans; job != NULL; job = job->next)
		job->orphaned = true;
	pthread_mutex_unlock(&wq->mu);
	while (orphans != NULL) {
		job = orphans;
		orphans = job->next;
		/* event_free() waits for a callback running on another
		 * thread, which sees orphaned and returns untouched. */
		event_free(job->ev);
		free(job);
	}

	pthread_cond_destroy(&wq->cv);
	pthread_mutex_destroy(&wq->mu);
	free(wq->threads);
	free(wq);
}

int
pst_workq_submit(struct pst_workq *wq, struct event_base *base,
		 pst_work_fn *work, pst_work_fn *done, void *arg)
{
	struct workq_job *job = calloc(1, sizeof(*job));

	if (job == NULL)
		return -1;
	job->wq = wq;
	job->work = work;
	job->done = done;
	job->arg = arg;
	job->ev = event_new(base, -1, 0, workq_job_done, job);
	if (job->ev == NULL) {
		free(job);
		return -1;
	}

	pthread_mutex_lock(&wq->mu);
	if (wq->stopping) {
		pthread_mutex_unlock(&wq->mu);
		event_free(job->ev);
		free(job);
		return -1;
	}
	workq_live_add(wq, job);
	if (wq->qtail != NULL)
		wq->qtail->qnext = job;
	else
		wq->qhead = job;
	wq->qtail = job;
	pthread_cond_signal(&wq->cv);
	pthread_mutex_unlock(&wq->mu);
	return 0;
}
