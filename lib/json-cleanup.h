/* SPDX-License-Identifier: Apache-2.0 */
/* _cleanup_(json_object_putp) and _cleanup_(json_tokener_freep) for json-c. */
#pragma once

#include <json-c/json.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);
