/* SPDX-License-Identifier: Apache-2.0 */
/* vhsm-snp-sim hcl: the simulator standing in for Azure's paravisor (hcl-mode.c). */
#pragma once

/* The "hcl" verb: argv[0] is "hcl". Returns an exit status (-1 after --help). */
int sim_verb_hcl(int argc, char **argv);
