/*
 * spin.S - a tiny multiboot guest for the vsteal testbed.
 *
 * Every vCPU of the guest burns 100 % of whatever CPU time the host gives
 * it, forever, with interrupts off.  That turns the vCPU threads into pure
 * CPU hogs, so the host's run-queue delay (steal time) of each vCPU is
 * easy to provoke and to predict.
 *
 * Boot: QEMU's built-in multiboot loader (libvirt <os><kernel>) enters
 * _start on the bootstrap processor (BSP) in flat 32-bit protected mode,
 * paging off, interrupts off.  The application processors (APs) sleep
 * until someone wakes them:
 *
 *   1. copy a 16-bit trampoline to TRAMPOLINE (0x8000 = SIPI vector 0x08),
 *   2. software-enable the local APIC (0x1FF to the spurious vector reg),
 *   3. INIT, wait, start-up IPI, wait, start-up IPI to each AP.
 *
 * Each AP then runs the trampoline in real mode: it records itself as
 * alive in a table indexed by its initial APIC ID and spins.  The BSP
 * spins too, but now and then it sends INIT + SIPI again to every APIC ID
 * (1..MAX_APIC_ID) that has not checked in yet.  APs that run are never
 * disturbed; one that missed its SIPI, or a vCPU hot-plugged later
 * (virsh setvcpus --live), is picked up by the next round.
 *
 * All waits are measured with the TSC, not with loop counts: depending on
 * the host this code runs natively (hardware KVM, ~1 ns per instruction),
 * instruction by instruction in the host kernel's emulator (kvm_pvm, which
 * only runs PVM-aware 64-bit guests natively; ~1 us per instruction) or
 * under TCG.  The TSC ticks at roughly 1-4 GHz in all of them.
 *
 * Build (no multilib needed; plain binutils handle 32-bit objects):
 *   gcc -m32 -nostdlib -static -s -Wl,-Ttext=0x100000 -Wl,--build-id=none \
 *       -o spin.elf spin.S
 */

#define MB_MAGIC      0x1BADB002
#define MB_FLAGS      0x00000000

#define APIC_BASE     0xFEE00000
#define APIC_SVR      (APIC_BASE + 0x0F0)   /* spurious interrupt vector */
#define APIC_ICR_LO   (APIC_BASE + 0x300)   /* writing it sends the IPI */
#define APIC_ICR_HI   (APIC_BASE + 0x310)   /* destination in bits 24..31 */
#define ICR_BUSY      0x00001000            /* delivery status: pending */

#define ICR_INIT      0x00004500            /* INIT, assert, physical dest */
#define ICR_SIPI      0x00004608            /* start-up, vector 0x08 */

#define TRAMPOLINE    0x8000                /* = SIPI vector 0x08 << 12 */
#define ALIVE         0x7000                /* one byte per APIC ID */
#define MAX_APIC_ID   63

/* Waits, in TSC ticks (log2).  2^24 is ~6 ms at 2.8 GHz, 2^33 ~3 s. */
#define WAIT_INIT     24                    /* INIT -> first SIPI */
#define WAIT_SIPI     22                    /* first SIPI -> second SIPI */
#define ROUND_FIRST   24                    /* first pause between rounds, */
#define ROUND_MAX     33                    /* doubling up to this */

	.section .text
	.code32
	.globl _start

/* ---- multiboot header: must be 4-byte aligned in the first 8 KiB ---- */
	.align 4
multiboot_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

/* ---- BSP entry point ---- */
_start:
	cli
	cld
	movl	$stack_top, %esp

	/* Nobody is alive yet (low memory may hold firmware leftovers). */
	movl	$ALIVE, %edi
	movl	$(MAX_APIC_ID + 1), %ecx
	xorl	%eax, %eax
	rep stosb

	/* Copy the AP trampoline to where the start-up IPI points. */
	movl	$ap_trampoline, %esi
	movl	$TRAMPOLINE, %edi
	movl	$(ap_trampoline_end - ap_trampoline), %ecx
	rep movsb

	/* Mark the BSP itself alive: initial APIC ID is CPUID.1:EBX[31:24]. */
	movl	$1, %eax
	cpuid
	shrl	$24, %ebx
	movb	$1, ALIVE(%ebx)

	/* Software-enable the local APIC (spurious vector 0xFF, bit 8). */
	movl	$0x1FF, APIC_SVR

	movl	$ROUND_FIRST, %ebp          /* log2 of the pause between rounds */

wake_round:
	/* INIT - wait - SIPI - wait - SIPI, to every AP not yet alive. */
	movl	$ICR_INIT, %edx
	call	ipi_absent
	movl	$WAIT_INIT, %ecx
	call	tsc_wait
	movl	$ICR_SIPI, %edx
	call	ipi_absent
	movl	$WAIT_SIPI, %ecx
	call	tsc_wait
	movl	$ICR_SIPI, %edx
	call	ipi_absent

	/* Spin, then look again for APs; the pause doubles up to ROUND_MAX. */
	movl	%ebp, %ecx
	call	tsc_wait
	cmpl	$ROUND_MAX, %ebp
	jae	wake_round
	incl	%ebp
	jmp	wake_round

/* Send the IPI whose ICR low word is in %edx to each absent APIC ID. */
ipi_absent:
	movl	$1, %ebx
1:	cmpb	$0, ALIVE(%ebx)
	jne	3f
2:	testl	$ICR_BUSY, APIC_ICR_LO      /* previous IPI still pending? */
	jnz	2b
	movl	%ebx, %eax
	shll	$24, %eax
	movl	%eax, APIC_ICR_HI
	movl	%edx, APIC_ICR_LO
3:	incl	%ebx
	cmpl	$MAX_APIC_ID, %ebx
	jbe	1b
	ret

/* Busy-wait 2^%cl TSC ticks (%cl < 64). Clobbers eax, edx, esi, edi. */
tsc_wait:
	/* edi:esi = 1 << cl */
	xorl	%esi, %esi
	xorl	%edi, %edi
	cmpb	$32, %cl
	jae	1f
	movl	$1, %esi
	shll	%cl, %esi
	jmp	2f
1:	subb	$32, %cl
	movl	$1, %edi
	shll	%cl, %edi
2:	/* edi:esi += now */
	rdtsc
	addl	%eax, %esi
	adcl	%edx, %edi
3:	/* spin while now < edi:esi */
	rdtsc
	cmpl	%edi, %edx
	jb	3b
	ja	4f
	cmpl	%esi, %eax
	jb	3b
4:	ret

/* ---- AP trampoline: copied to TRAMPOLINE, runs in 16-bit real mode ---- */
	.code16
ap_trampoline:
	cli
	xorw	%ax, %ax
	movw	%ax, %ds
	movl	$1, %eax
	cpuid                               /* EBX[31:24] = initial APIC ID */
	shrl	$24, %ebx
	movb	$1, ALIVE(%bx)              /* check in (DS = 0) */
1:	jmp	1b                          /* and burn this vCPU forever */
ap_trampoline_end:
	.code32

/* ---- a small stack for the BSP (only call/ret use it) ---- */
	.section .bss
	.align 16
	.space 4096
stack_top:

	.section .note.GNU-stack, "", @progbits
