struct A { virtual int fa(); virtual ~A(); int a; };
struct B { virtual int fb(); virtual ~B(); int b; };
struct C : A, B { int fb() override; ~C(); };
int A::fa() { return 1; } A::~A() {} int B::fb() { return 2; } B::~B() {} int C::fb() { return 3; } C::~C() {}
struct VB { virtual void v(); int x; };
struct VD : virtual VB { VD(); void v() override; int y; };
VD::VD() {} void VB::v() {} void VD::v() {}
struct VE : virtual VB { VE() {} void v() override {} };
VE make_ve() { return VE(); }
int dyn_init(); int g_init = dyn_init();
struct Dtor { ~Dtor(); }; Dtor::~Dtor() {}
Dtor g_dtor;
int local_guard() { static Dtor d; static int q = dyn_init(); return q; }
thread_local int tl = dyn_init();
int use_tl() { return tl; }
const char* lit() { return "hello world"; }
const wchar_t* wlit() { return L"wide"; }
const char* lit2() { return "a\nb\t\"c\\"; }
int cast(A* a) { return dynamic_cast<C*>(a) ? 1 : 0; }
namespace std { template <class T> struct allocator {}; template <class C> struct char_traits {};
 template <class C, class T = char_traits<C>, class Al = allocator<C>> struct basic_string { basic_string(); ~basic_string(); const C* c_str() const; };
 template <class T, class Al = allocator<T>> struct vector { void push_back(const T&); void push_back(T&&); T& operator[](unsigned long long); };
 template <class K, class V> struct pair { K first; V second; };
 template <class F> struct function; template <class R, class... Args> struct function<R(Args...)> { R operator()(Args...) const; };
}
using string = std::basic_string<char>;
void use_std(std::vector<string>& v, const string& s, std::vector<std::pair<int, string>>& p, std::function<int(const string&, double)>& fn,
             std::function<void()>& f0, std::vector<int (*)(int)>& fps) {
  v.push_back(s); v.push_back(string()); p[0].second.c_str(); fn(s, 1.0); f0(); fps.push_back(nullptr);
}
template <class T> struct Tmpl { template <class U> Tmpl(U); ~Tmpl(); operator T() const; template <class U> operator U*() const; T operator+(const Tmpl&) const; };
void use_tmpl(Tmpl<int> t, Tmpl<Tmpl<char>> tt) { Tmpl<long> x(3.0); int i = t; char* p = t; (void)(t + t); (void)i; (void)p; }
struct Big { char c[100]; }; Big retbig(Big b) { return b; }
void arrays(int (&a)[2][3], char (*b)[4], const int c[5], int d[][6]) {}
int vf(int, ...);
int call_vf() { return vf(1, 2.0, "x"); }
struct Nested { struct Inner { struct Deep { static void f(Nested*, Inner*, Deep*); }; }; };
void Nested::Inner::Deep::f(Nested*, Inner*, Deep*) {}
void bk(A*, A*, B*, A*, C*, const A*, const A*, A&, A&, A**) {}
void fptrs(void (*)(void (*)(int)), int (*(*)(int))(char), void (A::*)(), int A::*) {}
template <class... T> struct Tup {}; void tup(Tup<>, Tup<int>, Tup<int, Tup<char*, const long*>>) {}
template <auto V> struct Auto {}; void au(Auto<5>, Auto<'c'>, Auto<(unsigned long long)-1>, Auto<-9223372036854775807ll - 1>) {}
enum class EC : short { x }; enum EP { y }; void enums(EC, EP, EC*, EP&) {}
union UU { int i; }; void unions(UU, UU*, const UU&) {}
void vol(volatile int*, const volatile int* const, int* __restrict, int* volatile) {}
void cx(char8_t, char16_t, char32_t, wchar_t) {}
void rr(int&&, const int&&, A&&) {}
void ne() noexcept; void ne() noexcept {} 
auto lam = [](auto x) { return x; }; int use_lam() { return lam(1) + (int)lam(2.0); }
struct S2 { static int s; static const int cs; int m; static void sf(); void mf() const volatile; };
int S2::s = 1; const int S2::cs = 2; void S2::sf() {} void S2::mf() const volatile {}
int (S2::*pm) = &S2::m; void (S2::*pmf)() const volatile = &S2::mf;
int useall() { C c; VD vd; S2::sf(); return cast(&c) + local_guard() + use_tl() + call_vf() + use_lam(); }
