/*
 * hsmkit PKCS#11 isolation shim.
 *
 * Why: a member host is a Node process, and Node exports the symbols of its statically linked
 * OpenSSL. pkcs11js dlopens a module with RTLD_LAZY|RTLD_LOCAL, so a module's references to
 * libcrypto (EC_*, ECDSA_*, ...) bind to Node's copy, the first definition in the global scope.
 * For SoftHSM that means P-521 without the fast 64-bit code path (25x slower), and for a vendor
 * module linked against another OpenSSL it means calling into an ABI it was not built for.
 *
 * What: this library is what pkcs11js loads instead of the real module. On first use it dlopens
 * the module named by HSMKIT_P11_ISOLATE_MODULE with RTLD_DEEPBIND, so the module and its own
 * dependencies resolve their symbols before the global scope, and forwards the entry points.
 * The function list it hands out is the real module's, so every other call goes straight to the
 * module without passing through here.
 *
 * pkcs11js 2.1.x looks up only C_GetFunctionList (pkcs11.cpp). C_GetInterfaceList and
 * C_GetInterface (PKCS#11 3.0) are forwarded too, as opaque pointers, for a consumer that asks;
 * when the real module lacks them they return CKR_FUNCTION_NOT_SUPPORTED.
 *
 * Build: cc -O2 -shared -fPIC -o libhsmkit-p11-isolate.so p11-isolate.c -ldl
 * No PKCS#11 headers are needed: only CK_RV (unsigned long) and pointers cross this file.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef unsigned long ck_rv;
#define CKR_GENERAL_ERROR 0x05UL
#define CKR_FUNCTION_NOT_SUPPORTED 0x54UL

typedef ck_rv (*get_function_list_fn)(void *);
typedef ck_rv (*get_interface_list_fn)(void *, void *);
typedef ck_rv (*get_interface_fn)(void *, void *, void *, unsigned long);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *real;
static get_function_list_fn real_get_function_list;
static get_interface_list_fn real_get_interface_list;
static get_interface_fn real_get_interface;

/* Loads the real module once. Failures are reported on stderr once (no secrets are involved). */
static void load_real(void) {
  const char *path = getenv("HSMKIT_P11_ISOLATE_MODULE");
  if (path == NULL || *path == '\0') {
    fprintf(stderr, "hsmkit-p11-isolate: HSMKIT_P11_ISOLATE_MODULE is not set\n");
    return;
  }
  /* RTLD_NOW: a module with unresolved symbols fails here, with dlerror(), not mid-operation. */
  real = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (real == NULL) {
    const char *err = dlerror();
    fprintf(stderr, "hsmkit-p11-isolate: %s\n", err ? err : "dlopen failed");
    return;
  }
  real_get_function_list = (get_function_list_fn)dlsym(real, "C_GetFunctionList");
  real_get_interface_list = (get_interface_list_fn)dlsym(real, "C_GetInterfaceList");
  real_get_interface = (get_interface_fn)dlsym(real, "C_GetInterface");
  if (real_get_function_list == NULL)
    fprintf(stderr, "hsmkit-p11-isolate: %s has no C_GetFunctionList\n", path);
}

__attribute__((visibility("default"))) ck_rv C_GetFunctionList(void *ppFunctionList) {
  pthread_once(&once, load_real);
  if (real_get_function_list == NULL) return CKR_GENERAL_ERROR;
  return real_get_function_list(ppFunctionList);
}

__attribute__((visibility("default"))) ck_rv C_GetInterfaceList(void *pInterfacesList, void *pulCount) {
  pthread_once(&once, load_real);
  if (real == NULL) return CKR_GENERAL_ERROR;
  if (real_get_interface_list == NULL) return CKR_FUNCTION_NOT_SUPPORTED;
  return real_get_interface_list(pInterfacesList, pulCount);
}

__attribute__((visibility("default"))) ck_rv C_GetInterface(void *pInterfaceName, void *pVersion,
                                                            void *ppInterface, unsigned long flags) {
  pthread_once(&once, load_real);
  if (real == NULL) return CKR_GENERAL_ERROR;
  if (real_get_interface == NULL) return CKR_FUNCTION_NOT_SUPPORTED;
  return real_get_interface(pInterfaceName, pVersion, ppInterface, flags);
}
