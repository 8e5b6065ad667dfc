namespace ns { namespace inner {
struct Base { virtual ~Base(); virtual int f(int) const; static int count; int x; };
Base::~Base() {}
int Base::f(int a) const { return a + x; }
int Base::count = 3;
class Derived : public Base { public: Derived(); ~Derived(); int f(int) const override; protected: void g() volatile; private: static long h(char, ...); };
Derived::Derived() {}
Derived::~Derived() {}
int Derived::f(int a) const { return a; }
void Derived::g() volatile {}
long Derived::h(char c, ...) { return c; }
} }
namespace { int anon(int a) { return a * 2; } struct Hidden { int m(); }; int Hidden::m() { return 1; } }
int (*use_anon)(int) = anon;
int use_hidden() { Hidden h; return h.m(); }
template <class T, int N> struct Arr { T v[N]; T& operator[](int i) { return v[i]; } T const* data() const { return v; } template <class U> U conv(U u) { return u; } };
template struct Arr<int, 4>;
template struct Arr<double, 16>;
template <int N> struct Neg { static int f() { return N; } }; template struct Neg<-3>; template struct Arr<Arr<char, 2>*, 3>;
template int Arr<int, 4>::conv<int>(int);
template float Arr<double, 16>::conv<float>(float);
struct Op {
  int v;
  Op& operator=(const Op&); Op& operator+=(int); bool operator==(const Op&) const; bool operator!=(const Op&) const;
  bool operator<(const Op&) const; int operator()(int, int); int operator[](long); Op operator-() const; Op operator+(const Op&) const;
  Op& operator++(); Op operator++(int); Op& operator<<=(int); Op operator<<(int) const; Op operator>>(int) const; bool operator!() const;
  operator int() const; operator bool*() const; Op* operator->(); int operator*() const; Op& operator^=(Op); Op operator~() const;
  bool operator&&(Op) const; bool operator||(Op) const; int operator->*(int); Op operator%(int); Op operator/(int); Op operator,(int);
  void* operator new(decltype(sizeof(0))); void operator delete(void*); void* operator new[](decltype(sizeof(0))); void operator delete[](void*);
};
Op& Op::operator=(const Op& o) { v = o.v; return *this; }
Op& Op::operator+=(int i) { v += i; return *this; }
bool Op::operator==(const Op& o) const { return v == o.v; }
bool Op::operator!=(const Op& o) const { return v != o.v; }
bool Op::operator<(const Op& o) const { return v < o.v; }
int Op::operator()(int a, int b) { return a + b; }
int Op::operator[](long i) { return (int)i; }
Op Op::operator-() const { return Op{-v}; }
Op Op::operator+(const Op& o) const { return Op{v + o.v}; }
Op& Op::operator++() { ++v; return *this; }
Op Op::operator++(int) { Op t = *this; ++v; return t; }
Op& Op::operator<<=(int s) { v <<= s; return *this; }
Op Op::operator<<(int s) const { return Op{v << s}; }
Op Op::operator>>(int s) const { return Op{v >> s}; }
bool Op::operator!() const { return !v; }
Op::operator int() const { return v; }
Op::operator bool*() const { return nullptr; }
Op* Op::operator->() { return this; }
int Op::operator*() const { return v; }
Op& Op::operator^=(Op o) { v ^= o.v; return *this; }
Op Op::operator~() const { return Op{~v}; }
bool Op::operator&&(Op o) const { return v && o.v; }
bool Op::operator||(Op o) const { return v || o.v; }
int Op::operator->*(int i) { return i; }
Op Op::operator%(int i) { return Op{v % i}; }
Op Op::operator/(int i) { return Op{v / i}; }
Op Op::operator,(int i) { return Op{i}; }
void* Op::operator new(decltype(sizeof(0))) { return nullptr; }
void Op::operator delete(void*) {}
void* Op::operator new[](decltype(sizeof(0))) { return nullptr; }
void Op::operator delete[](void*) {}
typedef int (*cb)(const char*, double);
int take(cb f, int (Op::*pm)(int, int), int Op::*pd, const volatile unsigned char* p, wchar_t w, char16_t c16, char32_t c32,
         long long ll, unsigned long long ull, bool b, float fl, long double ld, short s, unsigned short us, signed char sc, decltype(nullptr) np) { return 0; }
int refs(int& a, int&& b, const Op& c, Op* const d, int (&arr)[3], int (*parr)[4][5], Op** const* ppp) { return a + b; }
template <class F> int call(F f) { return f(1); }
int lambdas() {
  int k = 2;
  auto l1 = [](int a) { return a + 1; };
  auto l2 = [k](int a) { return a * k; };
  return call(l1) + call(l2) + [](){ return 3; }();
}
template <class... Ts> int pack(Ts... ts) { return sizeof...(ts); }
int use_pack() { return pack() + pack(1) + pack(1, 2.0, 'c', (Op*)nullptr); }
template <typename T> struct Outer { template <typename U> struct In { static U u(T); }; enum class E { a, b }; static E e(E); };
template <typename T> template <typename U> U Outer<T>::In<U>::u(T) { return U(); }
template <typename T> typename Outer<T>::E Outer<T>::e(E x) { return x; }
template struct Outer<int>::In<double>;
template struct Outer<Op>;
int counter() { static int n = 0; static int m[2]; return ++n + m[0]; }
extern int gdata; int gdata = 1;
const int* const gptr = &gdata;
Op gop;
int garr[10];
union U { int a; float b; }; U uf(U u) { return u; }
enum Color { Red, Green }; 
Color cf(Color c) { return c; }
template <int* P> int tp() { return *P; }
template int tp<&gdata>();
template <int Op::*P> int tpm() { return 0; }
template int tpm<&Op::v>();
template <bool B, char C, long long L> int tv() { return B + C + L; }
template int tv<true, 'x', -1234567890123ll>();
template int tv<false, 0, 0>();
struct V2 { virtual void a(); virtual void b(); };
struct V3 : virtual V2 { void a() override; };
void V2::a() {} void V2::b() {} void V3::a() {}
int __stdcall stdf(int a) { return a; }
int __fastcall fastf(int a) { return a; }
int __vectorcall vecf(int a) { return a; }
extern "C" int cfunc(int a) { return a; }
void (*get_fp(int))(int) { return nullptr; }
int vararg(const char*, ...) { return 0; }
void noexc() noexcept {}
struct RQ { void r() &; void rr() &&; void cr() const &; };
void RQ::r() & {} void RQ::rr() && {} void RQ::cr() const & {}
int useall() {
  V3 v3; Arr<int, 4> a; Outer<Op>::e(Outer<Op>::E::a);
  return lambdas() + use_pack() + counter() + a[0];
}
