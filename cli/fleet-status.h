/* SPDX-License-Identifier: Apache-2.0 */
/* vhsmd's fleet status, for the fleet verbs (verb-fleet-sync.c, verb-fleet-network.c). */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

/*
 * Sends op (VHSM_OP_FLEET_STATUS or VHSM_OP_FLEET_SYNC) to vhsmd and parses its reply: EXIT_OK
 * and the status object in *ret (json_object_put), or an EXIT_* after printing why (what names
 * the verb in the message).
 */
int cli_fleet_status(uint16_t op, const char *what, json_object **ret);
