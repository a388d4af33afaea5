/* actors/phone.h — the phone registry actor (p:<E.164>); see phone.c. */
#ifndef ROOST_ACTORS_PHONE_H
#define ROOST_ACTORS_PHONE_H

#include "runtime/actor.h"

extern const roost_behaviour_t phone_behaviour; /* kind "p" */

#endif
