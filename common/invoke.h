/* Crossing threads: the one way in this code base to have a function run
 * on another thread's GMainContext (besides frames, which cross through
 * the encoder's latest-frame-wins mailbox, encoder-thread.h).
 *
 * sgl_invoke queues fn(data) on context: it runs there, once, in a later
 * iteration (never inside sgl_invoke, even when called on that context,
 * so the caller's locks and state are never re-entered). free_data, when
 * given, frees data after fn has run, or if the context goes away first.
 * Callable from any thread. */
#ifndef SGL_INVOKE_H
#define SGL_INVOKE_H

#include <glib.h>

void sgl_invoke(GMainContext *context, void (*fn)(void *data), void *data,
                GDestroyNotify free_data);

/* sgl_invoke with a copy of size bytes from data, freed after fn ran:
 * for messages that the sender does not keep. */
void sgl_invoke_copy(GMainContext *context, void (*fn)(void *data), const void *data, size_t size);

#endif
