/*
 * Test helper: a PKCS#11 module that forwards to NSS softokn and adds the C_Initialize init args
 * NSS needs (pReserved), taken from HSMKIT_NSS_INIT_ARGS. pkcs11-tool cannot pass init args, so
 * the migration test reaches the NSS token through this shim to check it with a tool hsmkit did
 * not write. Only the C_Initialize entry differs; every other call is NSS's own.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long CK_RV;
typedef struct { unsigned char major, minor; } CK_VERSION;
/* CK_FUNCTION_LIST of PKCS#11 v2.40: the version, then 68 entry points (C_Initialize first). */
typedef struct {
  CK_VERSION version;
  CK_RV (*C_Initialize)(void *);
  void *rest[67];
} CK_FUNCTION_LIST;
typedef struct {
  void *CreateMutex, *DestroyMutex, *LockMutex, *UnlockMutex;
  unsigned long flags;
  void *pReserved;
} CK_C_INITIALIZE_ARGS;

static CK_FUNCTION_LIST shim;
static CK_RV (*real_initialize)(void *);

static CK_RV shim_initialize(void *args) {
  CK_C_INITIALIZE_ARGS a;
  memset(&a, 0, sizeof a);
  if (args != NULL) memcpy(&a, args, sizeof a);
  else a.flags = 2; /* CKF_OS_LOCKING_OK */
  a.pReserved = getenv("HSMKIT_NSS_INIT_ARGS");
  return real_initialize(&a);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST **out) {
  const char *path = getenv("HSMKIT_NSS_MODULE");
  void *lib = dlopen(path != NULL ? path : "/usr/lib/x86_64-linux-gnu/libsoftokn3.so", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL || out == NULL) return 5; /* CKR_GENERAL_ERROR */
  CK_RV (*get)(CK_FUNCTION_LIST **) = (CK_RV (*)(CK_FUNCTION_LIST **))dlsym(lib, "C_GetFunctionList");
  if (get == NULL) return 5;
  CK_FUNCTION_LIST *real;
  CK_RV rv = get(&real);
  if (rv != 0) return rv;
  memcpy(&shim, real, sizeof shim);
  real_initialize = real->C_Initialize;
  shim.C_Initialize = shim_initialize;
  *out = &shim;
  return 0;
}
