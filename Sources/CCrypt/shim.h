#ifndef CCRYPT_SHIM_H
#define CCRYPT_SHIM_H
// libxcrypt: bcrypt password hashes ($2a$, $2b$, $2y$), as etcd stores them.
#include <crypt.h>
#endif
