/* Internal to the WSGI bridge: the wsgi.input type over a buffered request
 * body (memory or spill file). Include after <Python.h>; only wsgi.c uses it. */
#ifndef WSGIHOST_WSGI_INPUT_H
#define WSGIHOST_WSGI_INPUT_H

#include "http.h"

/* PyType_Ready the type. GIL held. Returns 0, or -1 with an exception set. */
int wsgi_input_type_init(void);
/* A new, detached input object (new reference), or NULL with an exception. */
PyObject *wsgi_input_new(void);
/* Point the object at a request body. The body must stay valid until
 * wsgi_input_detach(); the object never reads past body->len. */
void wsgi_input_attach(PyObject *in, const struct http_body *body);
/* Forget the body: from now on every read returns b"". Called when the
 * request ends, because the app may keep a reference to wsgi.input. */
void wsgi_input_detach(PyObject *in);

#endif
