# SPDX-License-Identifier: GPL-2.0
#
# How harness/convert-to-series.py cuts the old layout (new files and
# <path>.patch files) into the logical patches of patches/linux/.
#
# PATCHES is the series in order.  Each Patch has:
#   subject  the subject line ("subsystem: what it does")
#   take     (path, regex) rules: the zero-context hunks of path whose text
#            (header "@@ ... @@ function" and +/- lines) matches regex;
#            (path, None) takes every hunk of path that no regex rule of any
#            patch takes.  A new file is one hunk.  Every hunk must be taken
#            by exactly one patch.  `convert-to-series.py --list` prints them.
#   before   (path, final_text, earlier_text): in the steps before this
#            patch, final_text reads earlier_text.  For a line that an
#            earlier patch's hunk introduces but that belongs to this patch.
#            final_text may be a compiled regex (re.compile(..., re.S)) for
#            a long block; it must match once.
#   section  a comment put before the patch in patches/linux/series
#   body     the changelog (wrapped at 72 columns)

KVM_MK = "tools/testing/selftests/kvm/Makefile"
KVM_ST = "tools/testing/selftests/kvm/x86_64/"

PATCHES = [
Patch(
    section="Preparation: a fix and two refactors, no functional change",
    subject="hugetlbfs: honour F_SEAL_EXEC in hugetlbfs_setattr()",
    take=[("fs/hugetlbfs/inode.c", r"F_SEAL_EXEC")],
    body="""
memfd_create(MFD_NOEXEC_SEAL) and F_ADD_SEALS accept F_SEAL_EXEC on
hugetlbfs memfds, and F_GET_SEALS reports it, but only shmem_setattr()
enforces it: chmod() on a hugetlbfs memfd sealed with F_SEAL_EXEC still
changes the exec bits.  A process that relies on the seal, as
vm.memfd_noexec=2 or a receiver of the fd checking its seals does, is
misled.

Refuse to change the exec bits of a file sealed with F_SEAL_EXEC with
-EPERM, as shmem does.
"""),
Patch(
    subject="hugetlbfs: factor hugetlbfs_get_folio() out of hugetlbfs_fallocate()",
    take=[("fs/hugetlbfs/inode.c", r"hugetlbfs_get_folio\(struct inode"),
          ("fs/hugetlbfs/inode.c", r"^@@.*hugetlbfs_fallocate\(")],
    body="""
The loop body of hugetlbfs_fallocate() finds the folio at a huge page
index of the file or allocates, zeroes and inserts one, under the hugetlb
fault mutex of that index.  A later patch needs the same lookup-or-
allocate for a single index, returning the folio, to hand the pages of a
hugetlbfs file to an in-kernel consumer.

Move it into hugetlbfs_get_folio(), which returns the folio with a
reference, and the pseudo vma set-up into hugetlbfs_init_pseudo_vma().
hugetlbfs_fallocate() drops the reference it gets.

No functional change.
"""),
Patch(
    subject="memfd: factor memfd_alloc_file() out of memfd_create()",
    take=[("mm/memfd.c", r"^\+struct file \*memfd_alloc_file"),
          ("mm/memfd.c", r"^-\tunsigned int \*file_seals;"),
          ("mm/memfd.c", r"^\+\tfile = memfd_alloc_file"),
          ("mm/memfd.c", r"^-\tfile->f_mode \|= FMODE_LSEEK"),
          ("include/linux/memfd.h", None)],
    body="""
memfd_create() both creates the file (shmem or hugetlbfs, with its mode
and initial seals) and installs it in the caller's fd table.  In-kernel
users that want a memfd-like file without an fd, such as the KUnit test
of memfile_notifier added later in this series, have to open-code the
first half.

Move the creation into memfd_alloc_file(name, flags), exported for
modules, with a stub returning -EOPNOTSUPP without CONFIG_MEMFD_CREATE.
The flags are those of memfd_create(), already checked by the caller.

No functional change.
"""),
Patch(
    section="mm: the memfile_notifier contract",
    subject="mm: add AS_UNMOVABLE for mappings whose folios must not move",
    take=[("include/linux/pagemap.h", None), ("mm/migrate.c", None)],
    body="""
A consumer that maps the pfns of a file's pages where no rmap walk or
mmu_notifier reaches them, such as KVM mapping guest private memory
into its NPT/EPT tables, cannot let the pages be migrated: migration
would free a page the guest still uses.  AS_INACCESSIBLE already makes
move_to_new_folio() fail for guest_memfd, but it also means "no direct
read/write access", which says more than such a consumer needs.

Add AS_UNMOVABLE, set with mapping_set_unmovable() (which also makes the
mapping unevictable, as mapping_set_inaccessible() does), tested with
mapping_unmovable(), and make move_to_new_folio() refuse to migrate
folios of such mappings with -EOPNOTSUPP.
"""),
Patch(
    subject="mm: introduce memfile_notifier",
    take=[("include/linux/memfile_notifier.h", None),
          ("mm/memfile_notifier.c", None),
          ("mm/Kconfig", None), ("mm/Makefile", None),
          ("Documentation/mm/memfile_notifier.rst", None),
          ("Documentation/mm/index.rst", None)],
    body="""
KVM's guest_memfd hands guest private memory to KVM in 4K pages: its
store is a special shmem-like file that allocates order-0 folios, so
private memory is mapped with 4K NPT/EPT entries only, and it cannot be
backed by the hugetlb pool that many hosts reserve at boot for their
guests.  Memory that host userspace must not reach can as well live in
an ordinary memory file system, if the file system lets an in-kernel
consumer get its pages, with their real size, and tells the consumer
when pages leave the file.

Add memfile_notifier, the contract between such a backing store (shmem
and hugetlbfs, in the next patches) and a consumer (KVM):

 - a store registers a memfile_backing_store at boot, with get_pfn()
   (the pfn and folio order of the page at an offset, allocated if it
   is a hole) and put_pfn();
 - each file of a store has a memfile_node with the properties it
   guarantees: user-inaccessible, unmovable (AS_UNMOVABLE),
   unreclaimable (unevictable);
 - a consumer registers a memfile_notifier on a file and is called
   before (invalidate) and after (invalidate_end) pages leave it, under
   SRCU.  The store holds the file's i_rwsem across the pair, and
   registration and unregistration take it too, so that a notifier
   gets both calls of a pair or neither: a consumer that counts the
   invalidations in progress stays balanced.  The store of a file is
   looked up before i_rwsem is taken, so that a consumer never takes
   the inode lock of a file that belongs to no store;
 - a page that must no longer be mapped but stays in the file (memory
   failure) is reported with memfile_notifier_invalidate_range(): both
   calls, one consumer after the other, with the folio locked and
   without i_rwsem;
 - the first nonzero owner that registers on an inaccessible file owns
   it for the file's lifetime: other owners get -EBUSY, also after the
   owner unregistered, so that a second VM never reads what a first
   one left in the file;
 - the file operations every store uses for its inaccessible files,
   which fail with -EPERM.

CONFIG_MEMFILE_NOTIFIER is selected by its consumers.  The contract,
its locking and lifetime rules are in
Documentation/mm/memfile_notifier.rst.
"""),
Patch(
    section="memfd: the uAPI",
    subject="memfd: add MFD_INACCESSIBLE",
    take=[("include/uapi/linux/memfd.h", None),
          ("tools/include/uapi/linux/memfd.h", None),
          ("mm/memfd.c", r"^\+#include <linux/memfile_notifier.h>"),
          ("mm/memfd.c", r"MFD_NOEXEC_SEAL \| MFD_EXEC \| MFD_INACCESSIBLE"),
          ("mm/memfd.c", r"An inaccessible file can be neither")],
    before=[("mm/memfd.c",
             " * Return: the file, not yet installed in any fd table, or an ERR_PTR:\n"
             " * -EINVAL if %MFD_INACCESSIBLE is asked of a store that cannot provide it.\n",
             " * Return: the file, not yet installed in any fd table, or an ERR_PTR.\n"),
            ("mm/memfd.c",
             "\tstruct file *file;\n\tint error;\n\n\tif (flags & MFD_HUGETLB)",
             "\tstruct file *file;\n\n\tif (flags & MFD_HUGETLB)"),
            ("mm/memfd.c",
             "\tif (flags & MFD_INACCESSIBLE) {\n"
             "\t\t/* Inaccessible files are unmovable and unreclaimable too. */\n"
             "\t\terror = memfile_node_set_flags(file, MEMFILE_F_ALLOWED_MASK);\n"
             "\t\tif (error) {\n"
             "\t\t\tfput(file);\n"
             "\t\t\treturn ERR_PTR(error);\n"
             "\t\t}\n"
             "\t}\n\n", ""),
            ("mm/memfd.c",
             "\tif (flags & (MFD_NOEXEC_SEAL | MFD_INACCESSIBLE)) {\n",
             "\tif (flags & MFD_NOEXEC_SEAL) {\n"),
            ("mm/memfd.c",
             "\t/* Nobody can access an inaccessible file: there is nothing to seal. */\n"
             "\tif ((flags & MFD_INACCESSIBLE) && file_seals)\n"
             "\t\t*file_seals |= F_SEAL_SEAL;\n", "")],
    body="""
Let userspace create the files that memfile_notifier consumers take:
memfd_create(MFD_INACCESSIBLE) makes a shmem file, or with MFD_HUGETLB a
hugetlbfs file, whose contents no process can read, write, map or reopen
through /proc.  The VMM sizes it (ftruncate()) and allocates or punches
it (fallocate()), and passes it to KVM as the private memory of a
memslot.

The file gets every memfile_node property (inaccessible, unmovable,
unreclaimable) at creation, so memfd_create() fails with -EINVAL when the
store has not registered with memfile_notifier.  Nobody can access the
file, so there is nothing to seal and nothing to execute:
MFD_INACCESSIBLE refuses MFD_ALLOW_SEALING and MFD_EXEC, implies what
MFD_NOEXEC_SEAL does (which satisfies every vm.memfd_noexec setting) and
leaves the file sealed with F_SEAL_SEAL | F_SEAL_EXEC.

The value is 0x0020, the next free MFD_* bit; the tools/ copy of the
header follows.
"""),
Patch(
    subject="mm: add F_SEAL_AUTO_ALLOCATE",
    take=[("include/uapi/linux/fcntl.h", None),
          ("tools/perf/trace/beauty/include/uapi/linux/fcntl.h", None),
          ("mm/memfd.c", r"SEAL_AUTO_ALLOCATE"),
          ("mm/memfd.c", r"^-\t\tstruct hstate \*h = hstate_file\(memfd\);"),
          ("mm/khugepaged.c", None),
          ("mm/shmem.c", r"F_SEAL_AUTO_ALLOCATE"),
          ("mm/hugetlb.c", None)],
    body="""
A VMM that converts guest memory between private (in an inaccessible
memfd) and shared (in an ordinary memfd it maps) wants each guest page
to use memory once: the shared copy of a range exists only while the
range is shared.  It punches the shared copy when a range becomes
private, but any later write or fault on the shared mapping, by the VMM
or by a device model touching a stale address, silently allocates the
page again, and with hugetlb takes a huge page from the pool.

Add F_SEAL_AUTO_ALLOCATE: on a file sealed so, only fallocate() fills
holes.  Every other way a page gets into a hole fails:

 - shmem_get_folio_gfp() fails allocations with -EPERM (a write returns
   it, a fault gets SIGBUS), and hugetlb_no_page() fails faults of shared
   mappings of hugetlbfs files with VM_FAULT_SIGBUS; a missing fault in a
   userfaultfd range still goes to its handler first, which can
   fallocate() the page;
 - UFFDIO_COPY (and UFFDIO_ZEROPAGE on shmem) fail with -EPERM, or as
   before with -EEXIST when the page is there and with -EFAULT beyond
   the end of the file;
 - memfd_alloc_folio() (memfd_pin_folios(), udmabuf) fails with -EPERM on
   hugetlbfs, as shmem_get_folio_gfp() does on shmem;
 - khugepaged does not collapse a range of such a file that has holes
   into a huge page.

Pages that are already in the file are used as before.

The value is 0x0040, the next free F_SEAL_* bit; the tools/perf copy of
the header follows.
"""),
Patch(
    section="The backing stores",
    subject="shmem: back memfile_notifier and inaccessible memfds",
    take=[("include/linux/shmem_fs.h", None), ("mm/shmem.c", None)],
    body="""
Make shmem a memfile_notifier backing store, so that
memfd_create(MFD_INACCESSIBLE) works on shmem and KVM can take its pages
as guest private memory:

 - each inode embeds a memfile_node;
 - inaccessible files get file operations on which everything but
   fallocate() fails with -EPERM, and hold whole pages only: ftruncate()
   to a size that is not page aligned fails with -EINVAL;
 - get_pfn() allocates holes with SGP_CACHE (zeroed, never past EOF),
   refuses hwpoisoned folios with -EHWPOISON, marks the folio dirty (the
   consumer writes to it without telling) and returns the order of the
   folio, so that a consumer may map a THP whole;
 - truncation and hole punch, the only ways pages leave a file that can
   have consumers (a notifier pins the file), are bracketed by
   invalidate/invalidate_end, with i_rwsem held for write across both
   (lockdep checks it).  Truncation covers the pages that
   fallocate(FALLOC_FL_KEEP_SIZE) placed beyond the end of the file;
 - memory failure of a page calls invalidate_range over its folio from
   shmem_error_remove_folio(): the folio stays in the page cache,
   poisoned, and consumers must drop their mappings of it.

The store needs CONFIG_TMPFS, as memfd_create() does.
"""),
Patch(
    subject="hugetlbfs: back memfile_notifier and inaccessible memfds",
    take=[("include/linux/hugetlb.h", None), ("fs/hugetlbfs/inode.c", None)],
    before=[("fs/hugetlbfs/inode.c",
             "\t/*\n"
             "\t * Migratable also for an unmovable (inaccessible) file, whose folios\n"
             "\t * move_to_new_folio() refuses to migrate: memory_failure() ignores\n"
             "\t * an in-use huge page that is not marked so, and would never call\n"
             "\t * hugetlbfs_error_remove_folio() for it.\n"
             "\t */\n"
             "\tfolio_set_hugetlb_migratable(folio);\n",
             "\tfolio_set_hugetlb_migratable(folio);\n")],
    body="""
Make hugetlbfs a memfile_notifier backing store: an inaccessible
hugetlbfs memfd gives its consumer 2M and 1G pages with their order, so
that KVM can map guest private memory with 2M and 1G NPT/EPT entries
and take it from the hugetlb pool reserved at boot.

 - each hugetlbfs inode embeds a memfile_node;
 - inaccessible files get file operations on which everything but
   fallocate() fails with -EPERM (mmap() still finds an area first, as
   for any hugetlbfs file);
 - get_pfn() uses hugetlbfs_get_folio(), under the hugetlb fault mutex of
   the index, so it serialises against faults and hole punch like
   fallocate() does, and holds i_rwsem shared, so that truncation cannot
   run between the size check and the insertion of a new folio (which
   would leave a folio past EOF and return its reservation twice).  It
   waits for i_rwsem killably: a vCPU may wait there behind a long
   fallocate() of 1G pages.  It returns the subpage at the offset and
   the order of the huge page, refuses offsets past EOF with -EINVAL
   and hwpoisoned pages with -EHWPOISON.  Huge pages are never split;
 - hole punch and truncation call invalidate before and invalidate_end
   after the pages leave, with i_rwsem held for write (lockdep checks
   it) and without i_mmap_rwsem, over the byte range rounded out to
   pages: partial huge pages are zeroed, so their consumers must drop
   them too.  Truncation covers the folios fallocate(FALLOC_FL_KEEP_SIZE)
   put past the old size; it looks for them only in files that have
   consumers, so that other hugetlbfs files do not pay for the walk;
 - memory failure of a page calls invalidate_range over its folio from
   hugetlbfs_error_remove_folio(), since consumers map it where no rmap
   reaches.  Folios of inaccessible files stay marked migratable
   (move_to_new_folio() refuses them anyway) because memory_failure()
   ignores an in-use huge page that is not, and would never call it.

SysV shm files are hugetlbfs inodes with other file operations; they are
not memfiles.
"""),
Patch(
    subject="hugetlbfs: reserve the pages of an inaccessible file when it grows",
    take=[],
    before=[("fs/hugetlbfs/inode.c",
             "static bool hugetlbfs_inaccessible(struct inode *inode)\n"
             "{\n"
             "#ifdef CONFIG_MEMFILE_NOTIFIER\n"
             "\treturn HUGETLBFS_I(inode)->memfile_node.flags &\n"
             "\t       MEMFILE_F_USER_INACCESSIBLE;\n"
             "#else\n"
             "\treturn false;\n"
             "#endif\n"
             "}\n\n", ""),
            ("fs/hugetlbfs/inode.c",
             "\t\t/*\n"
             "\t\t * Private memory of a guest must not fail a fault for lack of\n"
             "\t\t * huge pages: an inaccessible file reserves its pages when it\n"
             "\t\t * grows, or fails to grow.  Truncation gives them back.\n"
             "\t\t */\n"
             "\t\tif (newsize > oldsize && hugetlbfs_inaccessible(inode) &&\n"
             "\t\t    !hugetlb_reserve_pages(inode, oldsize >> huge_page_shift(h),\n"
             "\t\t\t\t\t   newsize >> huge_page_shift(h),\n"
             "\t\t\t\t\t   NULL, 0))\n"
             "\t\t\treturn -ENOMEM;\n", "")],
    body="""
Pages of an inaccessible hugetlbfs file are allocated when the guest
first touches them.  memfd_create() makes the file with VM_NORESERVE, so
nothing reserves them: when the pool runs out, KVM's get_pfn() fails in
the middle of a guest fault, and the VMM can only kill the guest.  A
shared mapping of a hugetlbfs file does better: mmap() reserves its
pages and fails up front.

Reserve the new huge pages when ftruncate() grows an inaccessible file,
with hugetlb_reserve_pages() over the new range, and fail it with
-ENOMEM when the pool (or the mount's subpool) cannot cover them.
Allocation in get_pfn() and fallocate() consumes the reservation;
truncation, hole punch and eviction give it back as for any hugetlbfs
file.  HugePages_Rsvd shows the reserved pages, see
Documentation/admin-guide/mm/hugetlbpage.rst.
"""),
Patch(
    subject="mm: add KUnit tests for memfile_notifier and its stores",
    take=[("mm/memfile_notifier_test.c", None)],
    before=[("mm/Kconfig",
             "\n"
             "config MEMFILE_NOTIFIER_KUNIT_TEST\n"
             "\ttristate \"KUnit tests for memfile_notifier and its backing stores\" if !KUNIT_ALL_TESTS\n"
             "\tdepends on KUNIT && MEMFD_CREATE && SHMEM\n"
             "\tselect MEMFILE_NOTIFIER\n"
             "\tdefault KUNIT_ALL_TESTS\n"
             "\thelp\n"
             "\t  An in-kernel consumer of inaccessible memfds (shmem and, with\n"
             "\t  hugetlbfs support, 2M and 1G hugetlb pages) that checks the pages\n"
             "\t  and orders get_pfn() returns and the ranges punch hole and truncate\n"
             "\t  invalidate.  If unsure, say N.\n", ""),
            ("mm/Makefile",
             "obj-$(CONFIG_MEMFILE_NOTIFIER_KUNIT_TEST) += memfile_notifier_test.o\n",
             "")],
    body="""
The stores' side of the contract is easiest to check from inside the
kernel: which pfn and order get_pfn() returns for every page of a file,
whether the page references go back, and whether punch hole and
truncate invalidate exactly the range that leaves the file, partial
huge pages included.

Add a KUnit suite with an in-kernel consumer of inaccessible memfds on
shmem and on hugetlbfs with 2M and 1G pages (skipped when the pool has
none), created with memfd_alloc_file().  Besides the orders and
ranges, it checks that truncation also reports what
fallocate(FALLOC_FL_KEEP_SIZE) put past EOF, that get_pfn() racing with
truncation leaves no page past EOF and the pool exact, that a file
belongs to its first owner, and that a (simulated) memory failure makes
the consumer drop the folio and get_pfn() refuse it.  Each case closes
its file synchronously, so that the next one starts from a settled
hugetlb pool.  CONFIG_MEMFILE_NOTIFIER_KUNIT_TEST selects
MEMFILE_NOTIFIER, so the suite also builds the core without KVM.
"""),
Patch(
    section="KVM",
    subject="KVM: accept inaccessible memfds as private memory of memslots",
    take=[("virt/kvm/guest_memfile.c", None),
          ("virt/kvm/Makefile.kvm", None), ("virt/kvm/Kconfig", None),
          ("virt/kvm/guest_memfd.c", None), ("virt/kvm/kvm_mm.h", None),
          ("include/linux/kvm_host.h", r"memfile"),
          ("arch/x86/include/asm/kvm_host.h", None),
          ("virt/kvm/kvm_main.c", r"kvm_memfile_release_vm|KVM_CAP_INACCESSIBLE_MEMFD"),
          ("include/uapi/linux/kvm.h", r"KVM_CAP_INACCESSIBLE_MEMFD")],
    body="""
Wherever KVM_SET_USER_MEMORY_REGION2 with KVM_MEM_GUEST_MEMFD takes a
guest_memfd, also take a memfd_create(MFD_INACCESSIBLE) file, on shmem
or on hugetlbfs with 2M or 1G pages.  The memslot registers a
memfile_notifier on the file: private faults get the pfn and the order
of the backing page from the store, so that the MMU can map 2M and 1G
where the range is uniformly private and the gfn and the file offset
are congruent, and punch hole and truncate zap exactly the affected
gfns.

Ownership: a file belongs to one VM, the first that binds it, through
memfile_notifier's owner (an id per VM, never reused).  Other VMs get
-EINVAL, also once the first VM is gone, so that no guest reads what
another left in the file.  The file is claimed at the bind, even when
the ioctl fails after it.  Within a VM, the ranges of a file that
memslots bind do not overlap (-EEXIST).

Lifetime: unlike a guest_memfd, the file does not pin the VM.  A
binding holds the file, not the VM; the bindings are detached, their
mappings zapped, when the VM's last reference goes, before the MMU is
torn down, and freed with their memslots.

Locking: kvm->slots_lock (bind, unbind) ranks above the file's i_rwsem
(held by the store across invalidate and invalidate_end, and taken by
registration), which ranks above kvm->srcu and kvm->mmu_lock.  An
invalidation works as an mmu_notifier one does: under mmu_lock it
marks the range in progress (mmu_invalidate) before it looks the
memslot up, so that a memslot installed after the lookup cannot map the
range until invalidate_end and one installed before it is zapped.  A
memslot being deleted counts as live until the deletion has zapped it,
so that a punch in between still zaps its mappings before the store
frees the pages.  The fault path calls get_pfn() under kvm->srcu only.

Only software-protected VMs take such files
(kvm_arch_has_memfile_private_mem()): SEV-SNP's RMP updates live in the
guest_memfd prepare and invalidate hooks, which these stores do not run.
KVM_CAP_INACCESSIBLE_MEMFD (4096, far out of upstream's range on
purpose) tells userspace.
"""),
Patch(
    subject="KVM: accept the legacy uAPI forms of private memory",
    take=[("include/uapi/linux/kvm.h", r"KVM_MEM_PRIVATE"),
          ("virt/kvm/kvm_main.c", None),
          ("include/linux/kvm_host.h", r"kvm_vm_set_mem_private"),
          ("arch/x86/kvm/x86.c", r"The conversion alias")],
    before=[("include/uapi/linux/kvm.h",
             " * Out of tree, far above upstream's range: KVM_SET_USER_MEMORY_REGION2 and\n"
             " * the legacy extended form of KVM_SET_USER_MEMORY_REGION accept\n"
             " * memfd_create(MFD_INACCESSIBLE) files as guest_memfd, and the\n"
             " * KVM_MEMORY_ENCRYPT_(UN)REG_REGION conversion aliases convert them.\n",
             " * Out of tree, far above upstream's range: KVM_SET_USER_MEMORY_REGION2\n"
             " * accepts memfd_create(MFD_INACCESSIBLE) files as guest_memfd.\n")],
    body="""
VMMs written against the earlier fd-based private memory proposal,
out-of-tree QEMU branches among them, pass private memory with
KVM_SET_USER_MEMORY_REGION, flag KVM_MEM_PRIVATE and a struct
kvm_userspace_memory_region_ext, and convert ranges with
KVM_MEMORY_ENCRYPT_REG_REGION (to private) and
KVM_MEMORY_ENCRYPT_UNREG_REGION (to shared).  Accept these legacy uAPI
forms as aliases of today's uAPI, so that such VMMs run unchanged on
inaccessible memfds:

 - the legacy extended form of KVM_SET_USER_MEMORY_REGION:
   KVM_MEM_PRIVATE is KVM_MEM_GUEST_MEMFD, and with it
   KVM_SET_USER_MEMORY_REGION reads a kvm_userspace_memory_region_ext,
   which has the layout of kvm_userspace_memory_region2 (checked at
   build time);
 - the KVM_MEMORY_ENCRYPT_(UN)REG_REGION conversion aliases: on
   KVM_X86_SW_PROTECTED_VM they set or clear
   KVM_MEMORY_ATTRIBUTE_PRIVATE over the range through
   kvm_vm_set_mem_private(), with the checks and errors of
   KVM_SET_MEMORY_ATTRIBUTES.  SEV VMs keep their meaning.

KVM_CAP_INACCESSIBLE_MEMFD says that these forms are there too.
"""),
Patch(
    section="KVM x86 MMU: keep large private mappings",
    subject="KVM: x86/mmu: honour the attribute filter when zapping TDP MMU leaves",
    take=[("arch/x86/kvm/mmu/tdp_mmu.c", None)],
    body="""
kvm_tdp_mmu_unmap_gfn_range() ignores range->attr_filter: an hva
invalidation of a software-protected VM (KVM_FILTER_SHARED) also zaps
the private mappings of its range, and an invalidation of private
memory zaps the shared ones.  Private memory in an inaccessible memfd is
not mapped by any hva, so each mmu_notifier event on the shared side,
and each conversion, throws away large private mappings that did not
change.

Skip leaf SPTEs whose gfn is not of the kind the filter names.  Private
and shared mappings of software-protected VMs share page tables, and a
leaf maps what the attribute of its gfns says: a conversion zaps the old
mappings before it changes the attribute, and a leaf never spans gfns of
both kinds.  So one 4K page made shared in a 1G private mapping leaves
the rest of the private range mapped, and converting it back maps 1G
again at the next fault.  Zaps without a filter, and VMs without private
memory, are unchanged.
"""),
Patch(
    subject="KVM: x86/mmu: map private memory large in memslots with a misaligned hva",
    take=[("arch/x86/kvm/mmu.h", None), ("arch/x86/kvm/mmu/mmu.c", None),
          ("arch/x86/kvm/x86.c", r"^@@.*kvm_alloc_memslot_metadata")],
    body="""
kvm_alloc_memslot_metadata() disallows large pages at every level where
the memslot's userspace_addr and its gpa are not aligned to each other,
because an hva mapping could not back them.  Private memory is not
mapped through the hva: a memslot whose shared side is misaligned, for
instance because the VMM mmap()s its shared memory without huge page
alignment, still loses its 2M and 1G private mappings.

In memslots that can hold private memory, record the misalignment as
KVM_LPAGE_HVA_MISALIGNED_FLAG in disallow_lpage instead of disallowing
large pages outright, and ignore that flag in
__kvm_mmu_max_mapping_level() for private faults.  Mixed ranges still
count through disallow_lpage's other bits.
"""),
Patch(
    section="Selftests, with the kvm_util extension and the KVM test hook they need",
    subject="selftests/memfd: add memfd_inaccessible_test",
    take=[("tools/testing/selftests/memfd/Makefile", None),
          ("tools/testing/selftests/memfd/memfd_inaccessible_test.c", None)],
    body="""
Check the uAPI of MFD_INACCESSIBLE and F_SEAL_AUTO_ALLOCATE on shmem and
on hugetlbfs with 2M and 1G pages: every access path of an inaccessible
memfd (read, write, mmap, splice, sendfile, copy_file_range, reopening
through /proc) fails with EPERM, the flag combinations and
vm.memfd_noexec settings, sizes, fallocate() and hole punch, and
that F_SEAL_AUTO_ALLOCATE leaves only fallocate() able to fill holes,
also against userfaultfd, udmabuf and MADV_COLLAPSE.
"""),
Patch(
    subject="KVM: selftests: run private_mem_conversions_test on inaccessible memfds",
    take=[(KVM_ST + "private_mem_conversions_test.c", None)],
    body="""
private_mem_conversions_test converts ranges between private and shared
while vCPUs check their contents, with guest_memfd as private memory.
Add -p to choose where private memory lives (guest_memfd, memfd-shmem,
memfd-hugetlb-2M, memfd-hugetlb-1G), and -l to use the legacy uAPI
forms (the legacy extended form of KVM_SET_USER_MEMORY_REGION with
KVM_MEM_PRIVATE, and the KVM_MEMORY_ENCRYPT_(UN)REG_REGION conversion
aliases), so that the same test covers inaccessible memfds and the
aliases.
"""),
Patch(
    subject="KVM: selftests: let __vm_mem_add() place the host mapping",
    take=[("tools/testing/selftests/kvm/include/kvm_util.h", None),
          ("tools/testing/selftests/kvm/lib/kvm_util.c", None)],
    body="""
vm_mem_add() maps the host memory of a region at an address it aligns
for the backing.  A test of private memory must place the shared
mapping of a memslot misaligned from its GPA on purpose, to check that
KVM still maps the private memory of the memslot large.  Without
library support, such a test adds the memslot, deletes it, adds it
again at the address it wants and rewrites the library's bookkeeping of
the region by hand.

Add __vm_mem_add(): vm_mem_add() with the host mapping hva_offset bytes
past an hva_alignment aligned address (0 for the alignment vm_mem_add()
chooses).  vm_mem_add() calls it with 0 and 0, so that its callers are
unchanged.  private_mem_memfd_test, in the next patch, is the first
user.
"""),
Patch(
    subject="KVM: selftests: add private_mem_memfd_test",
    take=[("tools/testing/selftests/kvm/include/x86_64/private_mem_util.h", None),
          (KVM_ST + "private_mem_memfd_test.c", None),
          (KVM_MK, None)],
    body="""
Add the inaccessible memfd counterpart of guest_memfd_test, on shmem and
on hugetlbfs with 2M and 1G pages: KVM_CAP_INACCESSIBLE_MEMFD, the
binding rules and bad input of KVM_SET_USER_MEMORY_REGION2 and of the
legacy uAPI forms, the ownership rule (a second VM gets EINVAL for a
file another VM bound, also after that VM deleted its memslot or went
away, and the owner binds a freed range again), private mappings at the
level of the backing page (from the KVM stats), never a large mapping
over a range that mixes private and shared, recovery after converting
back, slot edges, incongruent offsets and misaligned hvas, hole punch
(whole and partial) and truncation while the guest runs, one vCPU
converting while another faults, and the hugetlb pool back where it was
when the VM and the memfd go away.

private_mem_util.h has the guest side (touch or check a range on
command) and the counters (KVM stats, hugetlb pool) that this and the
following tests share.  MFD_INACCESSIBLE and KVM_CAP_INACCESSIBLE_MEMFD
come from the installed uAPI headers; F_SEAL_AUTO_ALLOCATE is spelled
out, as upstream's memfd selftests spell out F_SEAL_EXEC, because
<linux/fcntl.h> does not build together with the C library's <fcntl.h>.
"""),
Patch(
    subject="KVM: selftests: add private memory stress, isolation and bad input tests",
    take=[(KVM_ST + "private_mem_stress_test.c", None),
          (KVM_ST + "private_mem_isolation_test.c", None),
          (KVM_ST + "private_mem_bad_input_test.c", None)],
    before=[(KVM_MK, "TEST_GEN_PROGS_x86_64 += x86_64/private_mem_bad_input_test\n", ""),
            (KVM_MK, "TEST_GEN_PROGS_x86_64 += x86_64/private_mem_isolation_test\n", ""),
            (KVM_MK, "TEST_GEN_PROGS_x86_64 += x86_64/private_mem_stress_test\n", "")],
    body="""
Three tests of what private memory in inaccessible memfds must withstand:

 - private_mem_stress_test: two vCPUs write over private memory while
   one thread converts random ranges and another punches and fills
   holes; then the guest and the host check every page, the mappings
   and the hugetlb pool against a model built from a seed, so that a
   failing check replays; one round deletes and re-adds the memslot.
   A guest_memfd variant runs the same stress on upstream's store.  A
   vCPU still running long after the stop fails the test with its exit
   and fault counters;
 - private_mem_isolation_test: with private data live in the guest,
   host userspace cannot reach it through the memfd, through the slot's
   shared mapping read by /proc/PID/mem, process_vm_readv() or ptrace(),
   through KVM once the page is shared again, or through a second VM,
   which cannot bind the file; a page one VM freed reads as zeroes in
   the next; an exhausted or shrunk hugetlb pool gives the VMM a clean
   error;
 - private_mem_bad_input_test: hostile arguments to every call this
   series adds or extends, one case per variant named after its call,
   each with its documented errno and no state left behind; VM types
   that cannot take inaccessible memfds; conversions racing memslot
   deletion.
"""),
Patch(
    subject="KVM: add a test hook that widens the races of memfile bindings",
    take=[("virt/kvm/Kconfig", r"KVM_MEMFILE_RACE_TEST"),
          ("virt/kvm/kvm_mm.h", r"kvm_memfile_race_delay"),
          ("virt/kvm/kvm_main.c", r"kvm_memfile_race_delay")],
    before=[("virt/kvm/guest_memfile.c",
             "#include <linux/delay.h>\n#include <linux/kvm_host.h>\n"
             "#include <linux/memfile_notifier.h>\n#include <linux/moduleparam.h>\n",
             "#include <linux/kvm_host.h>\n#include <linux/memfile_notifier.h>\n"),
            ("virt/kvm/guest_memfile.c",
             re.compile(r"#ifdef CONFIG_KVM_MEMFILE_RACE_TEST\n.*?\n#endif\n\n", re.S),
             ""),
            ("virt/kvm/guest_memfile.c",
             "\tkvm_memfile_race_delay(1);\n\tidx = srcu_read_lock(&kvm->srcu);\n",
             "\tidx = srcu_read_lock(&kvm->srcu);\n"),
            ("virt/kvm/guest_memfile.c",
             "\tkvm_memfile_race_delay(1);\n\n\t/* The memslot is not visible yet",
             "\n\t/* The memslot is not visible yet")],
    body="""
The races between a memslot change and an invalidation of its
inaccessible memfd are a few instructions wide: a bind that has
registered on the file but not installed its memslot yet, an
invalidation between marking its range and zapping it, and a memslot
being deleted, made invalid but not zapped yet.  A test cannot hit them
by chance, so a regression in how they are closed would go unnoticed.

Add CONFIG_KVM_MEMFILE_RACE_TEST (DEBUG_KERNEL only, off by default)
and with it kvm.memfile_race_delay_ms: milliseconds to sleep in each of
those windows, twice as long in a deletion, 0 (no delay) by default.
Without the option, kvm_memfile_race_delay() is an empty inline.
private_mem_race_test, in the next patch, sets the delay.
"""),
Patch(
    subject="KVM: selftests: add private_mem_race_test",
    take=[(KVM_ST + "private_mem_race_test.c", None)],
    before=[(KVM_MK, "TEST_GEN_PROGS_x86_64 += x86_64/private_mem_race_test\n", "")],
    body="""
Races between a memslot change and a hole punch in its inaccessible
memfd are too narrow to hit by chance.  With
CONFIG_KVM_MEMFILE_RACE_TEST, kvm.memfile_race_delay_ms widens them;
this test sets it and checks, on shmem and on hugetlbfs 2M, that:

 - a memslot installed while a punch invalidates its range keeps no
   mapping of the freed page (the guest reads zeroes, not what the
   page held);
 - a memslot deleted while a punch of its range runs keeps no mapping
   of the pages the punch frees before the deletion's own zap;
 - a bind in the middle of an invalidation does not see only its end
   (KVM would take its invalidation count below zero and mark the VM
   bugged).

It skips when the hook is not built.
"""),
Patch(
    subject="KVM: selftests: add private_mem_map_demo and private_mem_bench",
    take=[(KVM_ST + "private_mem_map_demo.c", None),
          (KVM_ST + "private_mem_bench.c", None)],
    before=[(KVM_MK, "TEST_GEN_PROGS_x86_64 += x86_64/private_mem_bench\n", ""),
            (KVM_MK, "TEST_GEN_PROGS_x86_64 += x86_64/private_mem_map_demo\n", ""),
            ("tools/testing/selftests/kvm/include/x86_64/private_mem_util.h",
             " * Helpers of the private memory tests, benchmark and demo: a guest that\n"
             " * touches or checks a range of its data memory on command, one qword per 4K\n"
             " * page, the counters they read (KVM stats, the hugetlb pool), and a VM with\n"
             " * one data memslot on a chosen backing, converted as a VMM does.\n",
             " * Helpers of the private memory tests: a guest that touches or checks a\n"
             " * range of its data memory on command, one qword per 4K page, and the\n"
             " * counters they read (KVM stats, the hugetlb pool).\n"),
            ("tools/testing/selftests/kvm/include/x86_64/private_mem_util.h",
             re.compile(r"\n/\*\n \* The benchmark's and the demo's VMs:.*?\n(?=\n#endif /\* SELFTEST_KVM_PRIVATE_MEM_UTIL_H \*/)", re.S),
             "")],
    body="""
Show and measure how KVM maps guest memory, by backing store (shared
anonymous 4K, shared hugetlb 2M and 1G, upstream guest_memfd, and
inaccessible memfds on shmem, hugetlb 2M and hugetlb 1G), one VM with
one data memslot per row:

 - private_mem_map_demo: the guest touches every page of the memslot
   and the program prints the page faults and the 4K/2M/1G mappings
   that took, then, on private hugetlb, converts one 4K page to shared
   and back and prints the mappings of the mixed huge page and of the
   page made private again, with the hugetlb pools before and after.
   It fails when a backing is mapped below its page size or a pool does
   not come back; -b picks rows and -s sets their size (a 2 GiB guest
   on 1G pages shows what a private-memory VM gets);
 - private_mem_bench: the populate time, faults and mappings of every
   row, the steady state, the latency and the mappings destroyed by 4K,
   2M and 1G conversions, and the hugetlb memory used per guest byte
   with a VMM that seals its shared memfd with F_SEAL_AUTO_ALLOCATE,
   printed as two tables for scripts to read.

private_mem_util.h gets what both share: the backings, a VM with one
data memslot on one of them (the shared side of a hugetlb memfd sealed
with F_SEAL_AUTO_ALLOCATE), a conversion round trip as a VMM does it,
and the pool helpers.
"""),
Patch(
    section="Documentation",
    subject="Documentation: userspace-api: document MFD_INACCESSIBLE and F_SEAL_AUTO_ALLOCATE",
    take=[("Documentation/userspace-api/mfd_inaccessible.rst", None),
          ("Documentation/userspace-api/index.rst", None)],
    body="""
Add the text of the memfd_create(2) and fcntl(2) manual page entries for
MFD_INACCESSIBLE and F_SEAL_AUTO_ALLOCATE: what works and what fails
with which errno on an inaccessible memfd, who owns it, how hugetlb
reservations behave, its seals, and what the new seal refuses.
"""),
Patch(
    subject="Documentation: admin-guide/mm/hugetlbpage: inaccessible hugetlb memfds",
    take=[("Documentation/admin-guide/mm/hugetlbpage.rst", None)],
    body="""
Tell administrators how inaccessible hugetlb memfds use the pool: growing
the file reserves its pages (HugePages_Rsvd) or fails with ENOMEM,
pages move from reserved to used when the guest touches them, shrinking,
punching and closing give them back, and the pages are never migrated
or split.  Say how to size a pool of 1G pages for private-memory guests,
and that a VMM should seal its shared hugetlb memfd with
F_SEAL_AUTO_ALLOCATE so that each guest page uses one huge page.
"""),
Patch(
    subject="KVM: Documentation: inaccessible memfds as private memory",
    take=[("Documentation/virt/kvm/api.rst", None)],
    body="""
Document, in api.rst, inaccessible memfds as the guest_memfd of
KVM_SET_USER_MEMORY_REGION2 (binding rules, ownership: the file is
claimed at the bind, even when the ioctl fails after it; large
mappings, punch hole and truncate, errors of the fault path),
KVM_CAP_INACCESSIBLE_MEMFD, and the legacy uAPI forms on
software-protected VMs: the legacy extended form of
KVM_SET_USER_MEMORY_REGION with KVM_MEM_PRIVATE and the
KVM_MEMORY_ENCRYPT_(UN)REG_REGION conversion aliases.
"""),
]
